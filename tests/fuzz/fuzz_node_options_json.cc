// libFuzzer target: arbitrary bytes as the options documents a node reads — a write's options
// ({"wait": "primary" | "all"}, node::WaitFromOptionsJson) and this member's DESIGN §3 fields
// (NodeOptions::member_json), the latter through Node::Open itself: on a first start (the
// fields given by the host) and on a restart (the fields read back from a store, with none
// given). The node runs on an in-memory storage and a MemoryNetwork, so an input costs a few
// threads, not a database. And the resource-file options (Node::ConfigureResources,
// node::ResourceConfigFromJson).
//
// Invariants: every refusal is INVALID_ARGUMENT with a message and a reason word; accepted
// write options name one wait that reads back; a node that opens stores its identity as the
// member's canonical fields, and opening it again from them (given, or stored) stores the same.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/array_json.h"
#include "core/replication/replicator.h"
#include "core/status.h"
#include "node/node.h"
#include "node/resource_scheduler.h"
#include "node/storage.h"

namespace {

using arraykit::node::Batch;
using arraykit::node::CertificateStatus;
using arraykit::node::Identity;
using arraykit::node::Node;
using arraykit::node::NodeOptions;
using arraykit::node::Storage;
using nlohmann::json;

constexpr const char* kName = "a.example.com";

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void CheckRefusal(const absl::Status& status) {
  Require(status.code() == absl::StatusCode::kInvalidArgument, "a refusal is INVALID_ARGUMENT");
  Require(!status.message().empty(), "a refusal says why");
  Require(!arraykit::ReasonOf(status).empty(), "a refusal carries a reason word");
}

// What a member's store holds, kept in memory and shared with the Storage a node opens.
struct Disk {
  std::optional<Identity> identity;
  std::optional<arraykit::failover::HardState> hard_state;
  arraykit::replication::Durable durable;
  std::map<std::string, arraykit::pki::SecretString> secrets;  // the member's keys
  std::map<std::string, CertificateStatus> certificates;
};

class MemoryStorage : public Storage {
 public:
  explicit MemoryStorage(std::shared_ptr<Disk> disk) : disk_(std::move(disk)) {}
  absl::StatusOr<std::optional<Identity>> LoadIdentity() override { return disk_->identity; }
  absl::StatusOr<std::optional<arraykit::failover::HardState>> LoadHardState() override {
    return disk_->hard_state;
  }
  absl::StatusOr<arraykit::replication::Durable> LoadReplication() override {
    return disk_->durable;
  }
  absl::StatusOr<std::vector<CertificateStatus>> LoadCertificates() override {
    std::vector<CertificateStatus> out;
    for (const auto& [name, certificate] : disk_->certificates) out.push_back(certificate);
    return out;
  }
  absl::StatusOr<std::optional<arraykit::pki::SecretString>> LoadSecret(
      const std::string& name) override {
    auto it = disk_->secrets.find(name);
    if (it == disk_->secrets.end()) return std::optional<arraykit::pki::SecretString>();
    return std::optional<arraykit::pki::SecretString>(it->second.Clone());
  }
  absl::StatusOr<std::vector<std::string>> SecretNames() override {
    std::vector<std::string> names;
    for (const auto& [name, secret] : disk_->secrets) names.push_back(name);
    return names;
  }
  absl::Status Commit(const Batch& batch) override {
    if (batch.credentials) {
      for (const auto& [name, secret] : batch.credentials->put_secrets) {
        disk_->secrets.insert_or_assign(name, secret.Clone());
      }
      for (const std::string& name : batch.credentials->delete_secrets) disk_->secrets.erase(name);
      for (const CertificateStatus& c : batch.credentials->put_certificates) {
        disk_->certificates.insert_or_assign(c.name, c);
      }
      for (const std::string& name : batch.credentials->delete_certificates) {
        disk_->certificates.erase(name);
      }
      if (batch.credentials->reset_repository) disk_->durable = {};
    }
    if (batch.identity) disk_->identity = batch.identity;
    if (batch.hard_state) disk_->hard_state = batch.hard_state;
    if (batch.replication != nullptr) {
      arraykit::replication::PersistReady(*batch.replication, disk_->durable);
    }
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<Disk> disk_;
};

// One network for the whole run: a node attaches on Open and detaches on Close.
std::shared_ptr<arraykit::node::MemoryNetwork> Network() {
  static auto* network = new std::shared_ptr<arraykit::node::MemoryNetwork>(
      arraykit::node::MemoryNetwork::Create(1));
  return *network;
}

// Opens and closes a node on `disk` with `member_json` given by the host; OK or the refusal.
absl::Status OpenAndClose(const std::shared_ptr<Disk>& disk, std::string member_json) {
  NodeOptions options;
  options.name = kName;
  options.data_dir = "/nonexistent/in-memory";
  options.member_json = std::move(member_json);
  options.attach = arraykit::node::AttachTo(Network());
  options.open_storage = [disk](const std::string&) -> absl::StatusOr<std::unique_ptr<Storage>> {
    return std::unique_ptr<Storage>(new MemoryStorage(disk));
  };
  auto node = Node::Open(std::move(options));
  if (!node.ok()) return node.status();
  Require((*node)->Close().ok(), "a node closes");
  return absl::OkStatus();
}

void FuzzWaitOptions(std::string_view text) {
  auto wait = arraykit::node::WaitFromOptionsJson(text);
  if (!wait.ok()) return CheckRefusal(wait.status());
  const char* word = *wait == arraykit::replication::Wait::kAll ? "all" : "primary";
  auto again = arraykit::node::WaitFromOptionsJson(json{{"wait", word}}.dump());
  Require(again.ok() && *again == *wait, "an accepted wait reads back");
}

// The identity a node stored is the canonical form of its fields; opening from it changes
// nothing.
void CheckStoredIdentity(const std::shared_ptr<Disk>& disk) {
  Require(disk->identity.has_value(), "an opened node stores its identity");
  Require(disk->identity->name == kName, "the identity names the node");
  auto doc = arraykit::model::ParseJsonDocument(disk->identity->member_json, "stored");
  Require(doc.ok(), "the stored fields are JSON");
  auto member = arraykit::model::MemberFromJson(*doc, "stored");
  Require(member.ok(), "the stored fields are a member");
  Require(arraykit::model::ToJson(*member).dump() == disk->identity->member_json,
          "the stored fields are canonical");
  const Identity stored = *disk->identity;
  Require(OpenAndClose(disk, stored.member_json).ok(), "the stored fields open again");
  Require(disk->identity == stored, "opening with the stored fields stores the same");
  Require(OpenAndClose(disk, "").ok(), "a restart without fields opens");
  Require(disk->identity == stored, "a restart keeps the stored fields");
}

void FuzzMemberFields(std::string_view text) {
  // A first start with the fields given by the host. (Empty text means "no fields given".)
  auto first = std::make_shared<Disk>();
  absl::Status opened = OpenAndClose(first, std::string(text));
  if (opened.ok()) {
    CheckStoredIdentity(first);
  } else {
    CheckRefusal(opened);
    Require(!first->identity.has_value() && !first->hard_state.has_value(),
            "a refused open stores nothing");
  }
  // A restart from a store holding these fields (written by an older build, or damaged).
  auto restart = std::make_shared<Disk>();
  restart->identity = Identity{kName, std::string(text)};
  absl::Status reopened = OpenAndClose(restart, "");
  if (reopened.ok()) {
    CheckStoredIdentity(restart);
  } else {
    CheckRefusal(reopened);
  }
}

// Accepted resource options read back the same from their canonical form.
void FuzzResourceOptions(std::string_view text) {
  auto config = arraykit::node::ResourceConfigFromJson(text, "/data");
  if (!config.ok()) return CheckRefusal(config.status());
  Require(!config->directory.empty() && !config->state_file.empty(),
          "accepted resource options name a directory and a state file");
  json canonical{{"directory", config->directory},
                 {"sync_at", arraykit::resources::FormatDailyTime(config->sync_at)},
                 {"state_file", config->state_file}};
  if (!config->zone_name.empty()) canonical["zone"] = config->zone_name;
  auto again = arraykit::node::ResourceConfigFromJson(canonical.dump(), "/elsewhere");
  Require(again.ok(), "canonical resource options are accepted");
  Require(again->directory == config->directory && again->sync_at == config->sync_at &&
              again->state_file == config->state_file && again->zone_name == config->zone_name &&
              again->zone == config->zone,
          "resource options read back the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FuzzWaitOptions(text);
  FuzzMemberFields(text);
  FuzzResourceOptions(text);
  return 0;
}
