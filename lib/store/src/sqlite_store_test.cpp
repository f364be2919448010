// The conformance suite on SQLite (one temporary file per test), plus what only SQLite has:
// a file that outlives the store, the schema bookkeeping and several connections to one file.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sallyport/store/store.hpp"
#include "sqlite_schema.hpp"
#include "store_conformance.hpp"

namespace sallyport::store {
namespace {

namespace fs = std::filesystem;

constexpr Millis kNow = 1'700'000'000'000;

// A fresh directory under the system temp dir, removed (with the -wal/-shm files) on scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("sallyport-store-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// The directory of the current conformance test; the suite runs one test at a time.
std::unique_ptr<TempDir>& conformance_dir() {
  static std::unique_ptr<TempDir> dir;
  return dir;
}

conformance::StoreBackend sqlite_backend() {
  return {"Sqlite",
          [] {
            conformance_dir() = std::make_unique<TempDir>();
            return open_sqlite(conformance_dir()->file("store.db"));
          },
          [] { conformance_dir().reset(); }};
}

}  // namespace

namespace conformance {
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(sqlite_backend()),
                         backend_name);
}  // namespace conformance

namespace {

// Direct access to the file, to look at what the store wrote.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path;
    }
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Every row of a one-column query, as text.
  std::vector<std::string> column(const char* sql) {
    std::vector<std::string> values;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_);
      return values;
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      values.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(stmt);
    return values;
  }

  void exec(const char* sql) {
    ASSERT_EQ(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(SqliteStore, DataSurvivesCloseAndReopen) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  std::int64_t audit_id = 0;
  {
    auto store = open_sqlite(path);
    User user;
    user.name = "alice";
    user.password_hash = "$argon2id$x";
    user.tags = {{"team", "ops"}};
    user.is_admin = true;
    ASSERT_TRUE(store->create_user(user));

    Activation activation;
    activation.id = "act-1";
    activation.registration_limit = 3;
    activation.expires_at = kNow + 1000;
    ASSERT_TRUE(store->create_activation(activation));
    ASSERT_EQ(store->consume_activation("act-1", kNow), ConsumeResult::kConsumed);

    Node node;
    node.id = "mi-00000000000000001";
    node.name = "web";
    node.public_key = std::string("\x00\x01\x02", 3);
    node.inventory.ip_addresses = {"10.0.0.1"};
    ASSERT_TRUE(store->create_node(node));

    store->create_token({"hash-1", "alice", kNow, kNow + 1000});
    store->record_login_failure("user:alice", kNow);
    AuditEvent event;
    event.time = kNow;
    event.action = "auth:Login";
    audit_id = store->append_audit(event);
  }
  auto store = open_sqlite(path);
  const auto user = store->get_user("alice");
  ASSERT_TRUE(user.has_value());
  EXPECT_TRUE(user->is_admin);
  EXPECT_EQ(user->tags, (Tags{{"team", "ops"}}));
  const auto activation = store->get_activation("act-1");
  ASSERT_TRUE(activation.has_value());
  EXPECT_EQ(activation->registrations, 1);
  const auto node = store->get_node("mi-00000000000000001");
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->public_key, std::string("\x00\x01\x02", 3));
  EXPECT_EQ(node->inventory.ip_addresses, (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_TRUE(store->get_token("hash-1").has_value());
  EXPECT_EQ(store->count_login_failures("user:alice", 0), 1);
  const auto events = store->list_audit(0, 10);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, audit_id);
  // Ids keep increasing across a reopen.
  EXPECT_GT(store->append_audit(AuditEvent{}), audit_id);
}

TEST(SqliteStore, OpeningInAMissingDirectoryThrowsAClearError) {
  TempDir dir;
  const std::string path = (dir.path() / "no-such-dir" / "state.db").string();
  try {
    open_sqlite(path);
    FAIL() << "expected store::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("unable to open database file"), std::string::npos) << message;
    EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(dir.path() / "no-such-dir"));
}

TEST(SqliteStore, OpeningAFileThatIsNotADatabaseThrows) {
  TempDir dir;
  const std::string path = dir.file("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(4096, 'x');
  }
  EXPECT_THROW(open_sqlite(path), Error);
}

TEST(SqliteStore, MigratesOnceToTheLatestVersionInWalMode) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  open_sqlite(path).reset();
  open_sqlite(path).reset();  // reopening does not migrate again
  RawDb raw(path);
  EXPECT_EQ(raw.column("SELECT version FROM schema_version ORDER BY version"),
            (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(raw.column("PRAGMA journal_mode"), (std::vector<std::string>{"wal"}));
}

// A database written by the first release (schema 1) keeps its data and gains the issue-3
// tables, with their cascades working against the old users table.
TEST(SqliteStore, MigratesAVersionOneDatabaseKeepingItsData) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    std::string script = std::string(sql::kCreateSchemaVersion) + ";" + sql::kMigrationV1 +
                         "INSERT INTO schema_version (version) VALUES (1);"
                         "INSERT INTO users VALUES ('alice', 'h', '{}', 1, 5);";
    ASSERT_EQ(sqlite3_exec(db, script.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto store = open_sqlite(path);
  const auto user = store->get_user("alice");
  ASSERT_TRUE(user.has_value());
  EXPECT_TRUE(user->is_admin);
  EXPECT_EQ(user->created_at, 5);
  PolicyRecord policy;
  policy.name = "p";
  policy.document = "{}";
  ASSERT_TRUE(store->create_policy(policy));
  ASSERT_TRUE(store->create_group(Group{"ops", kNow}));
  ASSERT_TRUE(store->add_group_member("ops", "alice"));
  ASSERT_TRUE(store->attach_policy(PolicyPrincipal::kUser, "alice", "p"));
  ASSERT_TRUE(store->delete_user("alice"));
  EXPECT_TRUE(store->list_group_members("ops").empty());
  EXPECT_TRUE(store->list_attached_policies(PolicyPrincipal::kUser, "alice").empty());
  store.reset();
  RawDb raw(path);
  EXPECT_EQ(raw.column("SELECT version FROM schema_version ORDER BY version"),
            (std::vector<std::string>{"1", "2", "3"}));
}

// A database of the issue-3 release (schema 2) keeps its live sessions, which gain no
// termination request, and can be asked to end them.
TEST(SqliteStore, MigratesAVersionTwoDatabaseKeepingItsSessions) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    std::string script = std::string(sql::kCreateSchemaVersion) + ";" + sql::kMigrationV1 + sql::kMigrationV2 +
                         "INSERT INTO schema_version (version) VALUES (1), (2);"
                         "INSERT INTO sessions VALUES ('s1', 'alice', 'mi-1', 'root', 'shell', '', 'Connected', '',"
                         " 'gw-1', 5, 0, 1, 2, NULL, NULL);";
    ASSERT_EQ(sqlite3_exec(db, script.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto store = open_sqlite(path);
  const auto session = store->get_session("s1");
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->owner, "alice");
  EXPECT_EQ(session->bytes_out, 2);
  EXPECT_TRUE(store->list_termination_requests("gw-1").empty());
  EXPECT_TRUE(store->request_termination({"s1", "admin", "why"}));
  ASSERT_EQ(store->list_termination_requests("gw-1").size(), 1u);
}

// The schema itself refuses an attachment whose principal columns disagree, so no code path
// can write one that escapes the cascades.
TEST(SqliteStore, AttachmentRowsMustNameTheirPrincipalConsistently) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = open_sqlite(path);
    User user;
    user.name = "alice";
    ASSERT_TRUE(store->create_user(user));
    PolicyRecord policy;
    policy.name = "p";
    ASSERT_TRUE(store->create_policy(policy));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db,
                         "INSERT INTO policy_attachments VALUES ('user', 'alice', 'p', NULL, NULL)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db,
                         "INSERT INTO policy_attachments VALUES ('user', 'bob', 'p', 'alice', NULL)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

TEST(SqliteStore, RefusesASchemaNewerThanItKnows) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  open_sqlite(path).reset();
  {
    RawDb raw(path);
    raw.exec("INSERT INTO schema_version (version) VALUES (99)");
  }
  try {
    open_sqlite(path);
    FAIL() << "expected store::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("newer"), std::string::npos) << error.what();
  }
}

TEST(SqliteStore, ErrorsCarrySqliteMessageButNoValues) {
  TempDir dir;
  auto store = open_sqlite(dir.file("state.db"));
  const std::string secret_hash = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e7";
  try {
    // A token must belong to an existing user.
    store->create_token({secret_hash, "nobody-user", kNow, kNow + 1});
    FAIL() << "expected store::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("FOREIGN KEY constraint failed"), std::string::npos) << message;
    EXPECT_EQ(message.find(secret_hash), std::string::npos) << message;
    EXPECT_EQ(message.find("nobody-user"), std::string::npos) << message;
  }
  // The connection is still usable afterwards.
  EXPECT_TRUE(store->list_users().empty());
}

TEST(SqliteStore, DuplicateTokenHashThrows) {
  TempDir dir;
  auto store = open_sqlite(dir.file("state.db"));
  User user;
  user.name = "alice";
  ASSERT_TRUE(store->create_user(user));
  store->create_token({"hash-1", "alice", kNow, kNow + 1});
  EXPECT_THROW(store->create_token({"hash-1", "alice", kNow, kNow + 1}), Error);
}

// Two connections to one file stand in for two gateway processes: the limit holds across them
// and the busy timeout absorbs the lock contention.
TEST(SqliteStore, ConsumptionLimitHoldsAcrossConnections) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  auto first = open_sqlite(path);
  auto second = open_sqlite(path);
  Activation activation;
  activation.id = "act-1";
  activation.registration_limit = 7;
  activation.expires_at = kNow + 1000;
  ASSERT_TRUE(first->create_activation(activation));

  std::atomic<int> consumed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    Store* store = (t % 2 == 0) ? first.get() : second.get();
    threads.emplace_back([store, &consumed] {
      for (int i = 0; i < 10; ++i) {
        if (store->consume_activation("act-1", kNow) == ConsumeResult::kConsumed) ++consumed;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(consumed.load(), 7);
  const auto got = second->get_activation("act-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->registrations, 7);
}

}  // namespace
}  // namespace sallyport::store
