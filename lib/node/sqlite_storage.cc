#include "node/sqlite_storage.h"

#include <memory>
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
                                      c.not_before, c.not_after, c.renewal_at, c.der});
    }
    return out;
  }
  absl::StatusOr<std::optional<pki::SecretString>> LoadSecret(const std::string& name) override {
    return store_->LoadSecret(name);
  }
  absl::StatusOr<std::vector<std::string>> SecretNames() override {
    return store_->SecretNames();
  }
  absl::Status Commit(const Batch& batch) override {
    store::Batch b;
    if (batch.identity) b.identity = store::Identity{batch.identity->name, batch.identity->member_json};
    b.hard_state = batch.hard_state;
    b.replication = batch.replication;
    replication::Ready reset;  // the repository emptied, then this batch's replication persists
    if (batch.credentials.has_value()) {
      const CredentialChange& c = *batch.credentials;
      for (const auto& [name, value] : c.put_secrets) b.secrets.push_back({name, &value});
      for (const std::string& name : c.delete_secrets) b.secrets.push_back({name, nullptr});
      for (const CertificateStatus& cert : c.put_certificates) {
        b.put_certificates.push_back(store::StoredCertificate{
            cert.name, cert.role == "ca" ? store::CertificateRole::kCa : store::CertificateRole::kPeer,
            cert.der, cert.not_before, cert.not_after, cert.renewal_at});
      }
      b.delete_certificates = c.delete_certificates;
      if (c.reset_repository) {
        if (batch.replication != nullptr) {
          const replication::Ready& r = *batch.replication;
          reset.snapshot = r.snapshot;
          reset.truncate_after = r.truncate_after;
          reset.append = r.append;
          reset.apply = r.apply;
          reset.compact_through = r.compact_through;
        }
        if (!reset.snapshot.has_value()) {
          reset.snapshot = std::make_shared<const replication::Snapshot>();
        }
        b.replication = &reset;
      }
    }
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
