// Conversions between arraykit.v1 and the core's types (convert.h). Encoding copies fields;
// decoding checks every field against the core's limits before the core sees it.
#include "transport/grpc/convert.h"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/failover/types.h"
#include "core/model/array.h"
#include "core/status.h"

namespace arraykit::grpc_transport {
namespace {

using google::protobuf::RepeatedPtrField;

constexpr std::size_t kMaxNameBytes = model::kMaxNameLength + 1;  // one trailing dot allowed
constexpr std::int64_t kMinIntervalMicros =
    static_cast<std::int64_t>(model::kMinIntervalSeconds * 1000000 + 0.5);
constexpr std::int64_t kMaxIntervalMicros =
    static_cast<std::int64_t>(model::kMaxIntervalSeconds * 1000000 + 0.5);
constexpr int kMinutesPerDay = 24 * 60;
constexpr const char kCodeKey[] = "arraykit-code";
constexpr const char kReasonKey[] = "arraykit-reason";

absl::Status Malformed(absl::string_view path, absl::string_view rule) {
  return MakeError(absl::StatusCode::kInvalidArgument, "malformed_message",
                   absl::StrCat(path, ": ", rule));
}

// `text` for a message: escaped, and cut after 64 bytes.
std::string Quoted(absl::string_view text) {
  constexpr std::size_t kShown = 64;
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kShown)),
                      text.size() > kShown ? "...\"" : "\"");
}

absl::Status CheckBytes(absl::string_view path, absl::string_view text, std::size_t max) {
  if (text.size() <= max) return absl::OkStatus();
  return Malformed(path, absl::StrCat("must be at most ", max, " bytes, got ", text.size()));
}

absl::Status CheckCount(absl::string_view path, std::size_t count, std::size_t max) {
  if (count <= max) return absl::OkStatus();
  return Malformed(path, absl::StrCat("holds ", count, " items; at most ", max, " are allowed"));
}

absl::Status CheckCategory(absl::string_view path, absl::string_view category) {
  if (category.empty()) return absl::OkStatus();  // barriers have none
  for (const char* known : replication::kCategories) {
    if (category == known) return absl::OkStatus();
  }
  return Malformed(path, absl::StrCat("unknown category ", Quoted(category)));
}

absl::Status DecodeNames(const RepeatedPtrField<std::string>& in, absl::string_view path,
                         std::vector<std::string>& out) {
  if (absl::Status s = CheckCount(path, in.size(), failover::kMaxFormationMembers); !s.ok()) {
    return s;
  }
  out.clear();
  out.reserve(in.size());
  for (int i = 0; i < in.size(); ++i) {
    if (in[i].size() > kMaxNameBytes) {
      return CheckBytes(absl::StrCat(path, "[", i, "]"), in[i], kMaxNameBytes);
    }
    out.push_back(in[i]);
  }
  return absl::OkStatus();
}

// ---- model ----------------------------------------------------------------------------------

void EncodeResilience(const model::Resilience& in, v1::Resilience& out) {
  out.set_failover_enabled(in.failover_enabled);
  out.set_monitor_interval_us(absl::ToInt64Microseconds(in.monitor_interval));
  out.set_monitor_attempts(in.monitor_attempts);
  out.set_find_primary_interval_us(absl::ToInt64Microseconds(in.find_primary_interval));
  out.set_find_primary_attempts(in.find_primary_attempts);
  out.set_primary_return_action(std::string(model::ToString(in.primary_return_action)));
  out.set_mode(std::string(model::ToString(in.mode)));
  if (in.failback_window.has_value()) {
    out.mutable_failback_window()->set_start_minute(in.failback_window->start_minute);
    out.mutable_failback_window()->set_end_minute(in.failback_window->end_minute);
  }
}

absl::StatusOr<absl::Duration> DecodeInterval(std::int64_t micros, absl::string_view path) {
  if (micros < kMinIntervalMicros || micros > kMaxIntervalMicros) {
    return Malformed(path, absl::StrCat("must be ", kMinIntervalMicros, " to ", kMaxIntervalMicros,
                                        " microseconds, got ", micros));
  }
  return absl::Microseconds(micros);
}

absl::StatusOr<int> DecodeAttempts(std::int32_t attempts, absl::string_view path) {
  if (attempts < model::kMinAttempts || attempts > model::kMaxAttempts) {
    return Malformed(path, absl::StrCat("must be ", model::kMinAttempts, " to ",
                                        model::kMaxAttempts, ", got ", attempts));
  }
  return attempts;
}

absl::StatusOr<model::Resilience> DecodeResilience(const v1::Resilience& in,
                                                   absl::string_view path) {
  model::Resilience out;
  out.failover_enabled = in.failover_enabled();
  absl::StatusOr<absl::Duration> interval =
      DecodeInterval(in.monitor_interval_us(), absl::StrCat(path, ".monitor_interval_us"));
  if (!interval.ok()) return interval.status();
  out.monitor_interval = *interval;
  interval = DecodeInterval(in.find_primary_interval_us(),
                            absl::StrCat(path, ".find_primary_interval_us"));
  if (!interval.ok()) return interval.status();
  out.find_primary_interval = *interval;
  absl::StatusOr<int> attempts =
      DecodeAttempts(in.monitor_attempts(), absl::StrCat(path, ".monitor_attempts"));
  if (!attempts.ok()) return attempts.status();
  out.monitor_attempts = *attempts;
  attempts =
      DecodeAttempts(in.find_primary_attempts(), absl::StrCat(path, ".find_primary_attempts"));
  if (!attempts.ok()) return attempts.status();
  out.find_primary_attempts = *attempts;

  bool known_action = false;
  for (auto action :
       {model::PrimaryReturnAction::kAccept, model::PrimaryReturnAction::kAcceptSecondary,
        model::PrimaryReturnAction::kNone}) {
    if (model::ToString(action) == in.primary_return_action()) {
      out.primary_return_action = action;
      known_action = true;
    }
  }
  if (!known_action) {
    return Malformed(absl::StrCat(path, ".primary_return_action"),
                     absl::StrCat("unknown action ", Quoted(in.primary_return_action()),
                                  " (accept, acceptsecondary, none)"));
  }
  bool known_mode = false;
  for (auto mode : {model::ResilienceMode::kArray, model::ResilienceMode::kQuorum}) {
    if (model::ToString(mode) == in.mode()) {
      out.mode = mode;
      known_mode = true;
    }
  }
  if (!known_mode) {
    return Malformed(absl::StrCat(path, ".mode"),
                     absl::StrCat("unknown mode ", Quoted(in.mode()), " (array, quorum)"));
  }
  if (in.has_failback_window()) {
    const v1::FailbackWindow& window = in.failback_window();
    for (auto [field, minute] :
         {std::pair<absl::string_view, std::int32_t>{"start_minute", window.start_minute()},
          {"end_minute", window.end_minute()}}) {
      if (minute < 0 || minute >= kMinutesPerDay) {
        return Malformed(absl::StrCat(path, ".failback_window.", field),
                         absl::StrCat("must be 0 to ", kMinutesPerDay - 1, ", got ", minute));
      }
    }
    out.failback_window = model::FailbackWindow{window.start_minute(), window.end_minute()};
  }
  return out;
}

void EncodeFormation(const failover::Formation& in, v1::Formation& out) {
  out.set_primary(in.primary);
  for (const std::string& name : in.members) out.add_members(name);
  for (const std::string& name : in.backup_primaries) out.add_backup_primaries(name);
  for (const std::string& name : in.voters) out.add_voters(name);
  EncodeResilience(in.resilience, *out.mutable_resilience());
  out.set_version(in.version);
}

absl::StatusOr<failover::Formation> DecodeFormation(const v1::Formation& in,
                                                    absl::string_view path) {
  failover::Formation out;
  if (absl::Status s = CheckBytes(absl::StrCat(path, ".primary"), in.primary(), kMaxNameBytes);
      !s.ok()) {
    return s;
  }
  out.primary = in.primary();
  if (absl::Status s = DecodeNames(in.members(), absl::StrCat(path, ".members"), out.members);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = DecodeNames(in.backup_primaries(), absl::StrCat(path, ".backup_primaries"),
                                   out.backup_primaries);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = DecodeNames(in.voters(), absl::StrCat(path, ".voters"), out.voters);
      !s.ok()) {
    return s;
  }
  if (!in.has_resilience()) return Malformed(absl::StrCat(path, ".resilience"), "missing");
  absl::StatusOr<model::Resilience> resilience =
      DecodeResilience(in.resilience(), absl::StrCat(path, ".resilience"));
  if (!resilience.ok()) return resilience.status();
  out.resilience = *std::move(resilience);
  out.version = in.version();
  return out;
}

void EncodeMember(const model::Member& in, v1::Member& out) {
  out.set_name(in.name);
  if (in.roles.frontend) out.add_roles("frontend");
  if (in.roles.backend) out.add_roles("backend");
  out.set_rack(in.rack);
  out.set_power(in.power);
  out.set_address(in.address);
  out.set_address_static(in.address_static);
  out.set_version(in.version);
}

absl::StatusOr<model::Member> DecodeMember(const v1::Member& in, absl::string_view path) {
  model::Member out;
  if (absl::Status s = CheckBytes(absl::StrCat(path, ".name"), in.name(), kMaxNameBytes); !s.ok()) {
    return s;
  }
  out.name = in.name();
  if (in.roles_size() > 2) {
    return CheckCount(absl::StrCat(path, ".roles"), in.roles_size(), 2);
  }
  for (int i = 0; i < in.roles_size(); ++i) {
    bool* role = in.roles(i) == "frontend"  ? &out.roles.frontend
                 : in.roles(i) == "backend" ? &out.roles.backend
                                            : nullptr;
    if (role == nullptr) {
      return Malformed(absl::StrCat(path, ".roles[", i, "]"),
                       absl::StrCat("unknown role ", Quoted(in.roles(i)), " (frontend, backend)"));
    }
    if (*role) return Malformed(absl::StrCat(path, ".roles[", i, "]"), "duplicate role");
    *role = true;
  }
  for (auto [field, value, target] :
       {std::tuple<absl::string_view, const std::string*, std::string*>{"rack", &in.rack(),
                                                                        &out.rack},
        {"power", &in.power(), &out.power},
        {"address", &in.address(), &out.address},
        {"version", &in.version(), &out.version}}) {
    if (absl::Status s = CheckBytes(absl::StrCat(path, ".", field), *value, model::kMaxFieldLength);
        !s.ok()) {
      return s;
    }
    *target = *value;
  }
  out.address_static = in.address_static();
  return out;
}

void EncodeStatus(const ops::WireStatus& in, v1::WireStatus& out) {
  out.set_code(in.code);
  out.set_reason(in.reason);
  out.set_message(in.message);
}

bool KnownCode(std::int32_t code) {
  if (code >= 0 && code <= static_cast<int>(absl::StatusCode::kUnauthenticated)) return true;
  return code >= 1000 && GetErrorCode(MakeError(static_cast<ErrorCode>(code), "")).has_value();
}

// `present`: the sub-message was set (a status is never implied: a missing one is not "OK").
absl::StatusOr<ops::WireStatus> DecodeStatus(bool present, const v1::WireStatus& in,
                                             absl::string_view path) {
  if (!present) return Malformed(path, "missing");
  if (!KnownCode(in.code())) {
    return Malformed(absl::StrCat(path, ".code"), absl::StrCat("unknown code ", in.code()));
  }
  if (absl::Status s = CheckBytes(absl::StrCat(path, ".reason"), in.reason(), kMaxFrameTextBytes);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckBytes(absl::StrCat(path, ".message"), in.message(), kMaxFrameTextBytes);
      !s.ok()) {
    return s;
  }
  return ops::WireStatus{in.code(), in.reason(), in.message()};
}

// ---- failover -------------------------------------------------------------------------------

void EncodeFailover(const failover::Message& in, v1::FailoverMessage& out) {
  out.set_type(std::string(failover::ToString(in.type)));
  out.set_epoch(in.epoch);
  out.set_id(in.id);
  out.set_ok(in.ok);
  out.set_version(in.version);
  out.set_original_primary(in.original_primary);
  out.set_subject(in.subject);
  out.set_reason(in.reason);
  out.set_voted_epoch(in.voted_epoch);
  out.set_follows_epoch(in.follows_epoch);
  out.mutable_log()->set_epoch(in.log.epoch);
  out.mutable_log()->set_index(in.log.index);
  for (const std::string& name : in.members) out.add_members(name);
  if (in.formation != nullptr) EncodeFormation(*in.formation, *out.mutable_formation());
}

absl::StatusOr<failover::Message> DecodeFailover(const v1::FailoverMessage& in) {
  failover::Message out;
  const std::optional<failover::MessageType> type = failover::ParseMessageType(in.type());
  if (!type.has_value()) {
    return Malformed("failover.type", absl::StrCat("unknown type ", Quoted(in.type())));
  }
  out.type = *type;
  out.epoch = in.epoch();
  out.id = in.id();
  out.ok = in.ok();
  out.version = in.version();
  for (auto [field, value, max] : {std::tuple<absl::string_view, const std::string*, std::size_t>{
                                       "original_primary", &in.original_primary(), kMaxNameBytes},
                                   {"subject", &in.subject(), kMaxNameBytes},
                                   {"reason", &in.reason(), kMaxFrameTextBytes}}) {
    if (absl::Status s = CheckBytes(absl::StrCat("failover.", field), *value, max); !s.ok()) {
      return s;
    }
  }
  out.original_primary = in.original_primary();
  out.subject = in.subject();
  out.reason = in.reason();
  out.voted_epoch = in.voted_epoch();
  out.follows_epoch = in.follows_epoch();
  out.log = failover::LogPosition{in.log().epoch(), in.log().index()};
  if (absl::Status s = DecodeNames(in.members(), "failover.members", out.members); !s.ok()) {
    return s;
  }
  if (in.has_formation()) {
    absl::StatusOr<failover::Formation> formation =
        DecodeFormation(in.formation(), "failover.formation");
    if (!formation.ok()) return formation.status();
    out.formation = std::make_shared<const failover::Formation>(*std::move(formation));
  }
  return out;
}

// ---- replication ----------------------------------------------------------------------------

void EncodeEntry(const replication::Entry& in, v1::Entry& out) {
  out.set_index(in.index);
  out.set_epoch(in.epoch);
  out.set_chain(in.chain);
  out.set_kind(std::string(replication::ToString(in.kind)));
  out.set_writer(in.writer);
  out.set_category(in.category);
  out.set_key(in.key);
  out.set_value(in.value);
  out.set_origin(in.origin);
}

absl::Status DecodeEntry(const v1::Entry& in, absl::string_view path, int i,
                         replication::Entry& out) {
  const auto field = [&](absl::string_view name) { return absl::StrCat(path, "[", i, "].", name); };
  const std::optional<replication::EntryKind> kind = replication::ParseEntryKind(in.kind());
  if (!kind.has_value()) {
    return Malformed(field("kind"), absl::StrCat("unknown kind ", Quoted(in.kind()),
                                                 " (put, delete, conflict, barrier)"));
  }
  if (in.writer().size() > kMaxNameBytes) {
    return CheckBytes(field("writer"), in.writer(), kMaxNameBytes);
  }
  if (absl::Status s = CheckCategory(field("category"), in.category()); !s.ok()) return s;
  if (in.key().size() > replication::kMaxKeyBytes) {
    return CheckBytes(field("key"), in.key(), replication::kMaxKeyBytes);
  }
  if (in.value().size() > replication::kMaxValueBytes) {
    return CheckBytes(field("value"), in.value(), replication::kMaxValueBytes);
  }
  if (in.origin().size() > kMaxFrameTextBytes) {
    return CheckBytes(field("origin"), in.origin(), kMaxFrameTextBytes);
  }
  out.index = in.index();
  out.epoch = in.epoch();
  out.chain = in.chain();
  out.kind = *kind;
  out.writer = in.writer();
  out.category = in.category();
  out.key = in.key();
  out.value = in.value();
  out.origin = in.origin();
  return absl::OkStatus();
}

void EncodeSnapshot(const replication::Snapshot& in, v1::Snapshot& out) {
  const replication::Repository& repo = in.repository;
  out.mutable_records()->Reserve(static_cast<int>(repo.records.size()));
  for (const auto& [key, record] : repo.records) {
    v1::Record& r = *out.add_records();
    r.set_category(key.first);
    r.set_key(key.second);
    r.set_value(record.value);
    r.set_deleted(record.deleted);
    r.set_index(record.index);
    r.set_epoch(record.epoch);
    r.set_writer(record.writer);
    r.set_origin(record.origin);
  }
  for (const replication::Conflict& c : repo.conflicts) {
    v1::Conflict& w = *out.add_conflicts();
    w.set_index(c.index);
    w.set_category(c.category);
    w.set_key(c.key);
    w.set_kept_value(c.kept_value);
    w.set_lost_value(c.lost_value);
    w.set_lost_writer(c.lost_writer);
    w.set_lost_origin(c.lost_origin);
  }
  out.set_applied_index(repo.applied_index);
  out.set_applied_chain(repo.applied_chain);
  out.set_applied_epoch(repo.applied_epoch);
}

absl::StatusOr<replication::Snapshot> DecodeSnapshot(const v1::Snapshot& in) {
  constexpr absl::string_view kRecords = "replication.snapshot.records";
  constexpr absl::string_view kConflicts = "replication.snapshot.conflicts";
  if (absl::Status s = CheckCount(kRecords, in.records_size(), kMaxSnapshotRecords); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCount(kConflicts, in.conflicts_size(), kMaxSnapshotConflicts);
      !s.ok()) {
    return s;
  }
  replication::Snapshot out;
  replication::Repository& repo = out.repository;
  for (int i = 0; i < in.records_size(); ++i) {
    const v1::Record& r = in.records(i);
    const auto field = [&](absl::string_view name) {
      return absl::StrCat(kRecords, "[", i, "].", name);
    };
    if (absl::Status s = CheckCategory(field("category"), r.category()); !s.ok()) return s;
    for (auto [name, value, max] : {std::tuple<absl::string_view, const std::string*, std::size_t>{
                                        "key", &r.key(), replication::kMaxKeyBytes},
                                    {"value", &r.value(), replication::kMaxValueBytes},
                                    {"writer", &r.writer(), kMaxNameBytes},
                                    {"origin", &r.origin(), kMaxFrameTextBytes}}) {
      if (value->size() > max) return CheckBytes(field(name), *value, max);
    }
    replication::Record record;
    record.value = r.value();
    record.deleted = r.deleted();
    record.index = r.index();
    record.epoch = r.epoch();
    record.writer = r.writer();
    record.origin = r.origin();
    const bool added =
        repo.records.emplace(replication::Key{r.category(), r.key()}, std::move(record)).second;
    if (!added) {
      return Malformed(field("key"), absl::StrCat("duplicate key ", Quoted(r.key()),
                                                  " in category ", Quoted(r.category())));
    }
  }
  repo.conflicts.reserve(in.conflicts_size());
  for (int i = 0; i < in.conflicts_size(); ++i) {
    const v1::Conflict& c = in.conflicts(i);
    const auto field = [&](absl::string_view name) {
      return absl::StrCat(kConflicts, "[", i, "].", name);
    };
    if (absl::Status s = CheckCategory(field("category"), c.category()); !s.ok()) return s;
    for (auto [name, value, max] : {std::tuple<absl::string_view, const std::string*, std::size_t>{
                                        "key", &c.key(), replication::kMaxKeyBytes},
                                    {"kept_value", &c.kept_value(), replication::kMaxValueBytes},
                                    {"lost_value", &c.lost_value(), replication::kMaxValueBytes},
                                    {"lost_writer", &c.lost_writer(), kMaxNameBytes},
                                    {"lost_origin", &c.lost_origin(), kMaxFrameTextBytes}}) {
      if (value->size() > max) return CheckBytes(field(name), *value, max);
    }
    repo.conflicts.push_back(replication::Conflict{c.index(), c.category(), c.key(), c.kept_value(),
                                                   c.lost_value(), c.lost_writer(),
                                                   c.lost_origin()});
  }
  repo.applied_index = in.applied_index();
  repo.applied_chain = in.applied_chain();
  repo.applied_epoch = in.applied_epoch();
  return out;
}

void EncodeReplication(const replication::Message& in, v1::ReplicationMessage& out) {
  out.set_type(std::string(replication::ToString(in.type)));
  out.set_epoch(in.epoch);
  out.set_id(in.id);
  out.set_ok(in.ok);
  out.set_reason(in.reason);
  out.set_prev_index(in.prev_index);
  out.set_prev_chain(in.prev_chain);
  out.set_commit_index(in.commit_index);
  out.mutable_entries()->Reserve(static_cast<int>(in.entries.size()));
  for (const replication::Entry& entry : in.entries) EncodeEntry(entry, *out.add_entries());
  out.set_match_index(in.match_index);
  out.set_last_index(in.last_index);
  out.set_applied_index(in.applied_index);
  out.set_last_epoch(in.last_epoch);
  for (const auto& [index, chain] : in.probes) {
    v1::ProbePoint& point = *out.add_probes();
    point.set_index(index);
    point.set_chain(chain);
  }
  if (in.snapshot != nullptr) EncodeSnapshot(*in.snapshot, *out.mutable_snapshot());
  out.set_voted_epoch(in.voted_epoch);
}

absl::StatusOr<replication::Message> DecodeReplication(const v1::ReplicationMessage& in) {
  replication::Message out;
  const std::optional<replication::MessageType> type = replication::ParseMessageType(in.type());
  if (!type.has_value()) {
    return Malformed("replication.type", absl::StrCat("unknown type ", Quoted(in.type())));
  }
  out.type = *type;
  out.epoch = in.epoch();
  out.id = in.id();
  out.ok = in.ok();
  if (absl::Status s = CheckBytes("replication.reason", in.reason(), kMaxFrameTextBytes); !s.ok()) {
    return s;
  }
  out.reason = in.reason();
  out.prev_index = in.prev_index();
  out.prev_chain = in.prev_chain();
  out.commit_index = in.commit_index();
  if (absl::Status s = CheckCount("replication.entries", in.entries_size(), kMaxFrameEntries);
      !s.ok()) {
    return s;
  }
  out.entries.resize(in.entries_size());
  for (int i = 0; i < in.entries_size(); ++i) {
    if (absl::Status s = DecodeEntry(in.entries(i), "replication.entries", i, out.entries[i]);
        !s.ok()) {
      return s;
    }
  }
  out.match_index = in.match_index();
  out.last_index = in.last_index();
  out.applied_index = in.applied_index();
  out.last_epoch = in.last_epoch();
  if (absl::Status s = CheckCount("replication.probes", in.probes_size(), kMaxFrameProbes);
      !s.ok()) {
    return s;
  }
  out.probes.reserve(in.probes_size());
  for (const v1::ProbePoint& point : in.probes()) {
    out.probes.emplace_back(point.index(), point.chain());
  }
  if (in.has_snapshot()) {
    absl::StatusOr<replication::Snapshot> snapshot = DecodeSnapshot(in.snapshot());
    if (!snapshot.ok()) return snapshot.status();
    out.snapshot = std::make_shared<const replication::Snapshot>(*std::move(snapshot));
  }
  out.voted_epoch = in.voted_epoch();
  return out;
}

// ---- join and CSR ---------------------------------------------------------------------------

std::int64_t ToUnixMs(absl::Time time) { return absl::ToUnixMillis(time); }
absl::Time FromUnixMs(std::int64_t ms) { return absl::FromUnixMillis(ms); }

// Checks each (path, value, limit) in order.
absl::Status CheckAll(
    std::initializer_list<std::tuple<absl::string_view, const std::string*, std::size_t>> fields) {
  for (auto [path, value, max] : fields) {
    if (absl::Status s = CheckBytes(path, *value, max); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<ops::JoinHello> DecodeJoinHello(const v1::JoinHello& in) {
  if (absl::Status s = CheckAll(
          {{"join_hello.primary", &in.primary(), kMaxNameBytes},
           {"join_hello.joiner", &in.joiner(), kMaxNameBytes},
           {"join_hello.token", &in.token(), kMaxFrameTextBytes},
           {"join_hello.version", &in.version(), model::kMaxFieldLength},
           {"join_hello.ca_certificate_pem", &in.ca_certificate_pem(), kMaxFramePemBytes}});
      !s.ok()) {
    return s;
  }
  ops::JoinHello out;
  out.primary = in.primary();
  out.joiner = in.joiner();
  out.token = in.token();
  out.version = in.version();
  out.clock = FromUnixMs(in.clock_unix_ms());
  out.epoch = in.epoch();
  out.ca_certificate_pem = in.ca_certificate_pem();
  return out;
}

absl::StatusOr<ops::JoinReply> DecodeJoinReply(const v1::JoinReply& in) {
  if (absl::Status s = CheckAll({{"join_reply.joiner", &in.joiner(), kMaxNameBytes},
                                 {"join_reply.csr_pem", &in.csr_pem(), kMaxFramePemBytes}});
      !s.ok()) {
    return s;
  }
  ops::JoinReply out;
  absl::StatusOr<ops::WireStatus> status =
      DecodeStatus(in.has_status(), in.status(), "join_reply.status");
  if (!status.ok()) return status.status();
  if (!in.has_member()) return Malformed("join_reply.member", "missing");
  absl::StatusOr<model::Member> member = DecodeMember(in.member(), "join_reply.member");
  if (!member.ok()) return member.status();
  out.joiner = in.joiner();
  out.status = *std::move(status);
  out.member = *std::move(member);
  out.clock = FromUnixMs(in.clock_unix_ms());
  out.standalone = in.standalone();
  out.epoch = in.epoch();
  out.csr_pem = in.csr_pem();
  return out;
}

absl::StatusOr<ops::JoinAdmit> DecodeJoinAdmit(const v1::JoinAdmit& in) {
  if (absl::Status s = CheckAll(
          {{"join_admit.primary", &in.primary(), kMaxNameBytes},
           {"join_admit.joiner", &in.joiner(), kMaxNameBytes},
           {"join_admit.certificate_pem", &in.certificate_pem(), kMaxFramePemBytes},
           {"join_admit.ca_certificate_pem", &in.ca_certificate_pem(), kMaxFramePemBytes}});
      !s.ok()) {
    return s;
  }
  if (!in.has_formation()) return Malformed("join_admit.formation", "missing");
  absl::StatusOr<failover::Formation> formation =
      DecodeFormation(in.formation(), "join_admit.formation");
  if (!formation.ok()) return formation.status();
  ops::JoinAdmit out;
  out.primary = in.primary();
  out.joiner = in.joiner();
  out.formation = *std::move(formation);
  out.epoch = in.epoch();
  out.certificate_pem = in.certificate_pem();
  out.ca_certificate_pem = in.ca_certificate_pem();
  return out;
}

absl::StatusOr<ops::JoinAdmitted> DecodeJoinAdmitted(const v1::JoinAdmitted& in) {
  if (absl::Status s = CheckBytes("join_admitted.joiner", in.joiner(), kMaxNameBytes); !s.ok()) {
    return s;
  }
  absl::StatusOr<ops::WireStatus> status =
      DecodeStatus(in.has_status(), in.status(), "join_admitted.status");
  if (!status.ok()) return status.status();
  return ops::JoinAdmitted{in.joiner(), *std::move(status)};
}

absl::StatusOr<node::CsrRequest> DecodeCsrRequest(const v1::CsrRequest& in) {
  if (absl::Status s =
          CheckAll({{"csr_request.csr_pem", &in.csr_pem(), kMaxFramePemBytes},
                    {"csr_request.ca_fingerprint", &in.ca_fingerprint(), model::kMaxFieldLength}});
      !s.ok()) {
    return s;
  }
  return node::CsrRequest{in.csr_pem(), in.ca_fingerprint()};
}

absl::StatusOr<node::CsrReply> DecodeCsrReply(const v1::CsrReply& in) {
  if (absl::Status s =
          CheckAll({{"csr_reply.ca_fingerprint", &in.ca_fingerprint(), model::kMaxFieldLength},
                    {"csr_reply.certificate_pem", &in.certificate_pem(), kMaxFramePemBytes}});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<ops::WireStatus> status =
      DecodeStatus(in.has_status(), in.status(), "csr_reply.status");
  if (!status.ok()) return status.status();
  return node::CsrReply{in.ca_fingerprint(), in.certificate_pem(), *std::move(status)};
}

// Sets the frame's payload from one alternative of node::Payload.
struct Encoder {
  v1::PeerFrame& frame;

  absl::Status operator()(const failover::Message& m) const {
    EncodeFailover(m, *frame.mutable_failover());
    return absl::OkStatus();
  }
  absl::Status operator()(const replication::Message& m) const {
    EncodeReplication(m, *frame.mutable_replication());
    return absl::OkStatus();
  }
  absl::Status operator()(const ops::JoinHello& m) const {
    v1::JoinHello& out = *frame.mutable_join_hello();
    out.set_primary(m.primary);
    out.set_joiner(m.joiner);
    out.set_token(m.token);
    out.set_version(m.version);
    out.set_clock_unix_ms(ToUnixMs(m.clock));
    out.set_epoch(m.epoch);
    out.set_ca_certificate_pem(m.ca_certificate_pem);
    return absl::OkStatus();
  }
  absl::Status operator()(const ops::JoinReply& m) const {
    v1::JoinReply& out = *frame.mutable_join_reply();
    out.set_joiner(m.joiner);
    EncodeStatus(m.status, *out.mutable_status());
    EncodeMember(m.member, *out.mutable_member());
    out.set_clock_unix_ms(ToUnixMs(m.clock));
    out.set_standalone(m.standalone);
    out.set_epoch(m.epoch);
    out.set_csr_pem(m.csr_pem);
    return absl::OkStatus();
  }
  absl::Status operator()(const ops::JoinAdmit& m) const {
    v1::JoinAdmit& out = *frame.mutable_join_admit();
    out.set_primary(m.primary);
    out.set_joiner(m.joiner);
    EncodeFormation(m.formation, *out.mutable_formation());
    out.set_epoch(m.epoch);
    out.set_certificate_pem(m.certificate_pem);
    out.set_ca_certificate_pem(m.ca_certificate_pem);
    return absl::OkStatus();
  }
  absl::Status operator()(const ops::JoinAdmitted& m) const {
    v1::JoinAdmitted& out = *frame.mutable_join_admitted();
    out.set_joiner(m.joiner);
    EncodeStatus(m.status, *out.mutable_status());
    return absl::OkStatus();
  }
  absl::Status operator()(const node::LinkError&) const {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid_argument",
                     "a LinkError is the transport's own report to its member and is never sent");
  }
  absl::Status operator()(const node::CsrRequest& m) const {
    v1::CsrRequest& out = *frame.mutable_csr_request();
    out.set_csr_pem(m.csr_pem);
    out.set_ca_fingerprint(m.ca_fingerprint);
    return absl::OkStatus();
  }
  absl::Status operator()(const node::CsrReply& m) const {
    v1::CsrReply& out = *frame.mutable_csr_reply();
    out.set_ca_fingerprint(m.ca_fingerprint);
    out.set_certificate_pem(m.certificate_pem);
    EncodeStatus(m.status, *out.mutable_status());
    return absl::OkStatus();
  }
};

template <typename T>
absl::StatusOr<node::Payload> AsPayload(absl::StatusOr<T> decoded) {
  if (!decoded.ok()) return decoded.status();
  return node::Payload(*std::move(decoded));
}

// A metadata value must be printable ASCII: reason words are snake_case, anything else is
// replaced rather than risk the call.
std::string MetadataSafe(absl::string_view word) {
  constexpr std::size_t kMaxReasonBytes = 128;
  std::string out(word.substr(0, kMaxReasonBytes));
  for (char& c : out) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.';
    if (!keep) c = '_';
  }
  return out;
}

absl::StatusCode CanonicalOf(int number) {
  if (number > 0 && number <= static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return static_cast<absl::StatusCode>(number);
  }
  return absl::StatusCode::kUnknown;
}

std::optional<std::string> TrailingValue(const ::grpc::ClientContext& context, const char* key) {
  const auto& trailing = context.GetServerTrailingMetadata();
  const auto it = trailing.find(::grpc::string_ref(key));
  if (it == trailing.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::StatusOr<v1::PeerFrame> EncodeFrame(const std::string& to, const node::Payload& payload) {
  v1::PeerFrame frame;
  frame.set_to(to);
  if (absl::Status s = std::visit(Encoder{frame}, payload); !s.ok()) return s;
  return frame;
}

absl::StatusOr<node::Payload> DecodeFrame(const v1::PeerFrame& frame) {
  if (absl::Status s = CheckBytes("to", frame.to(), kMaxNameBytes); !s.ok()) return s;
  switch (frame.payload_case()) {
    case v1::PeerFrame::kFailover: {
      absl::StatusOr<failover::Message> m = DecodeFailover(frame.failover());
      if (!m.ok()) return m.status();
      m->to = frame.to();
      return node::Payload(*std::move(m));
    }
    case v1::PeerFrame::kReplication: {
      absl::StatusOr<replication::Message> m = DecodeReplication(frame.replication());
      if (!m.ok()) return m.status();
      m->to = frame.to();
      return node::Payload(*std::move(m));
    }
    case v1::PeerFrame::kJoinHello:
      return AsPayload(DecodeJoinHello(frame.join_hello()));
    case v1::PeerFrame::kJoinReply:
      return AsPayload(DecodeJoinReply(frame.join_reply()));
    case v1::PeerFrame::kJoinAdmit:
      return AsPayload(DecodeJoinAdmit(frame.join_admit()));
    case v1::PeerFrame::kJoinAdmitted:
      return AsPayload(DecodeJoinAdmitted(frame.join_admitted()));
    case v1::PeerFrame::kCsrRequest:
      return AsPayload(DecodeCsrRequest(frame.csr_request()));
    case v1::PeerFrame::kCsrReply:
      return AsPayload(DecodeCsrReply(frame.csr_reply()));
    case v1::PeerFrame::PAYLOAD_NOT_SET:
      break;
  }
  return Malformed("payload",
                   "no payload set (one of failover, replication, join_hello, join_reply, "
                   "join_admit, join_admitted, csr_request, csr_reply)");
}

::grpc::Status ToGrpcStatus(const absl::Status& status, ::grpc::ServerContextBase* context) {
  if (status.ok()) return ::grpc::Status::OK;
  const std::optional<ErrorCode> own = GetErrorCode(status);
  const int number = own.has_value() ? static_cast<int>(*own) : static_cast<int>(status.code());
  if (context != nullptr) {
    context->AddTrailingMetadata(kCodeKey, std::to_string(number));
    context->AddTrailingMetadata(kReasonKey, MetadataSafe(ReasonOf(status)));
  }
  const absl::StatusCode canonical = CanonicalOf(static_cast<int>(status.code()));
  return ::grpc::Status(static_cast<::grpc::StatusCode>(canonical), std::string(status.message()));
}

absl::Status FromGrpcStatus(const ::grpc::Status& status, const ::grpc::ClientContext& context) {
  if (status.ok()) return absl::OkStatus();
  const std::string& message = status.error_message();
  absl::StatusCode canonical = CanonicalOf(static_cast<int>(status.error_code()));
  const std::optional<std::string> code_text = TrailingValue(context, kCodeKey);
  const std::optional<std::string> reason = TrailingValue(context, kReasonKey);
  int number = 0;
  if (code_text.has_value() && absl::SimpleAtoi(*code_text, &number)) {
    if (number >= 1000) {
      absl::Status own = MakeError(static_cast<ErrorCode>(number), message);
      if (GetErrorCode(own).has_value()) {
        return reason.has_value() && !reason->empty() ? WithReason(own, *reason) : own;
      }
    } else if (number > 0 && number <= static_cast<int>(absl::StatusCode::kUnauthenticated)) {
      canonical = static_cast<absl::StatusCode>(number);
    }
  }
  if (reason.has_value() && !reason->empty()) return MakeError(canonical, *reason, message);
  // No arraykit metadata: the status is gRPC's own (the member was not reached, or the deadline
  // passed before it answered).
  if (canonical == absl::StatusCode::kUnavailable) {
    return MakeError(canonical, "not_contactable",
                     message.empty() ? "the member cannot be reached" : message);
  }
  return absl::Status(canonical, message);
}

absl::StatusOr<replication::Wait> WaitFromProto(const std::string& wait, const std::string& field) {
  if (wait.empty() || wait == "primary") return replication::Wait::kPrimary;
  if (wait == "all") return replication::Wait::kAll;
  return MakeError(absl::StatusCode::kInvalidArgument, "invalid_value",
                   absl::StrCat(field, ": must be \"primary\" or \"all\", got ", Quoted(wait)));
}

std::string WaitToProto(replication::Wait wait) {
  return wait == replication::Wait::kAll ? "all" : "primary";
}

}  // namespace arraykit::grpc_transport
