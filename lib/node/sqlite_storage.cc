#include "node/sqlite_storage.h"

#include <utility>

#include "store/store.h"

namespace arraykit::node {
namespace {

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(std::unique_ptr<store::Store> store) : store_(std::move(store)) {}

  absl::StatusOr<std::optional<Identity>> LoadIdentity() override {
    auto id = store_->LoadIdentity();
    if (!id.ok()) return id.status();
    if (!id->has_value()) return std::optional<Identity>();
    return std::optional<Identity>(Identity{(*id)->name, (*id)->member_json});
  }
  absl::StatusOr<std::optional<failover::HardState>> LoadHardState() override {
    return store_->LoadHardState();
  }
  absl::StatusOr<replication::Durable> LoadReplication() override {
    return store_->LoadReplication();
  }
  absl::StatusOr<std::vector<CertificateStatus>> LoadCertificates() override {
    auto stored = store_->LoadCertificates();
    if (!stored.ok()) return stored.status();
    std::vector<CertificateStatus> out;
    for (const store::StoredCertificate& c : *stored) {
      out.push_back(CertificateStatus{c.name,
                                      c.role == store::CertificateRole::kCa ? "ca" : "peer",
                                      c.not_before, c.not_after, c.renewal_at});
    }
    return out;
  }
  absl::Status Commit(const Batch& batch) override {
    store::Batch b;
    if (batch.identity) b.identity = store::Identity{batch.identity->name, batch.identity->member_json};
    b.hard_state = batch.hard_state;
    b.replication = batch.replication;
    if (b.empty()) return absl::OkStatus();
    return store_->Commit(b);
  }

 private:
  std::unique_ptr<store::Store> store_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& data_dir) {
  auto store = store::Store::Open(data_dir);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Storage>(new SqliteStorage(*std::move(store)));
}

}  // namespace arraykit::node
