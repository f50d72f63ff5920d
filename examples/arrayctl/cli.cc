#include "arrayctl/cli.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace arrayctl {

Args::Args(std::vector<std::string> argv, std::vector<std::string> boolean_flags,
           std::vector<std::string> flags_with_value) {
  auto listed = [](const std::vector<std::string>& list, const std::string& flag) {
    return std::find(list.begin(), list.end(), flag) != list.end();
  };
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() > 2 && arg.rfind("--", 0) == 0) {
      std::string flag = arg;
      std::optional<std::string> inline_value;
      if (std::size_t eq = arg.find('='); eq != std::string::npos) {
        flag = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
      }
      if (listed(boolean_flags, flag) && !inline_value) {
        booleans_.push_back(flag);
      } else if (listed(flags_with_value, flag)) {
        if (inline_value) {
          values_.emplace_back(flag, *inline_value);
        } else if (i + 1 < argv.size()) {
          values_.emplace_back(flag, argv[++i]);
        } else {
          throw UsageError(flag + " needs a value");
        }
      } else {
        throw UsageError("unknown option " + flag);
      }
    } else {
      positionals_.push_back(arg);
    }
  }
}

bool Args::Has(const std::string& flag) const {
  return std::find(booleans_.begin(), booleans_.end(), flag) != booleans_.end();
}

std::optional<std::string> Args::Value(const std::string& flag) const {
  for (auto it = values_.rbegin(); it != values_.rend(); ++it) {
    if (it->first == flag) return it->second;
  }
  return std::nullopt;
}

std::string Args::OnePositional(const std::string& what) const {
  return ExactPositionals(1, what)[0];
}

std::vector<std::string> Args::ExactPositionals(std::size_t count, const std::string& what) const {
  if (positionals_.size() < count) throw UsageError("missing " + what);
  if (positionals_.size() > count) throw UsageError("unexpected argument " + positionals_[count]);
  return positionals_;
}

std::string ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read " + path, kReasonUnreadableInput);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UsageError("cannot read " + path, kReasonUnreadableInput);
  return text.str();
}

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

void Table::Add(std::vector<std::string> row) {
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> width(header_.size());
  for (std::size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out << line << '\n';
  };
  print_row(header_);
  for (const auto& row : rows_) print_row(row);
}

std::string Join(const nlohmann::json& strings, const std::string& separator) {
  std::string joined;
  if (!strings.is_array()) return joined;
  for (const auto& s : strings) {
    if (!joined.empty()) joined += separator;
    joined += s.is_string() ? s.get<std::string>() : s.dump();
  }
  return joined;
}

std::string FormatSeconds(double seconds) {
  std::ostringstream out;
  out << seconds << " s";
  return out.str();
}

}  // namespace arrayctl
