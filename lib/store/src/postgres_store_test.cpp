// The conformance suite on PostgreSQL, against a real server this binary starts once (one
// fresh schema per test), plus what only a shared server has: two stores standing in for two
// gateways, concurrent migration, and failures of the server itself.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "postgres_server.hpp"
#include "sallyport/store/store.hpp"
#include "store_conformance.hpp"

namespace sallyport::store {
namespace {

using testing::PostgresServer;

constexpr Millis kNow = 1'700'000'000'000;

// The one server of this binary, started by the environment below. When it cannot start,
// the reason is kept so every test fails with it (a missing PostgreSQL is never a skip).
struct Server {
  std::unique_ptr<PostgresServer> server;
  std::string failure;
};

Server& server() {
  static Server instance;
  return instance;
}

PostgresServer& running_server() {
  if (!server().server) throw std::runtime_error("no PostgreSQL server: " + server().failure);
  return *server().server;
}

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      server().server = std::make_unique<PostgresServer>();
    } catch (const std::exception& error) {
      server().failure = error.what();
      FAIL() << error.what();
    }
  }
  void TearDown() override { server().server.reset(); }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

// A fresh, empty schema on the shared server; dropped (with everything in it) on scope exit.
class Scratch {
 public:
  Scratch() : name_("t" + std::to_string(counter()++)) {
    running_server().execute("CREATE SCHEMA " + name_);
  }
  ~Scratch() {
    try {
      running_server().execute("DROP SCHEMA " + name_ + " CASCADE");
    } catch (const std::exception& error) {
      ADD_FAILURE() << error.what();
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  const std::string& name() const { return name_; }
  // Connection string whose search_path is this schema only.
  std::string conninfo() const { return running_server().conninfo("options=-csearch_path=" + name_); }

 private:
  static std::atomic<int>& counter() {
    static std::atomic<int> next{0};
    return next;
  }
  std::string name_;
};

// The schema of the current conformance test; the suite runs one test at a time.
std::unique_ptr<Scratch>& conformance_schema() {
  static std::unique_ptr<Scratch> schema;
  return schema;
}

conformance::StoreBackend postgres_backend() {
  return {"Postgres",
          [] {
            conformance_schema() = std::make_unique<Scratch>();
            return open_postgres(conformance_schema()->conninfo());
          },
          [] { conformance_schema().reset(); }};
}

}  // namespace

namespace conformance {
INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance, ::testing::Values(postgres_backend()),
                         backend_name);
}  // namespace conformance

namespace {

Activation activation_with_limit(const std::string& id, int limit) {
  Activation activation;
  activation.id = id;
  activation.name = "web";
  activation.code_hash = std::string(64, 'a');
  activation.registration_limit = limit;
  activation.expires_at = kNow + 3'600'000;
  activation.created_at = kNow;
  activation.created_by = "admin";
  return activation;
}

// Two stores on one schema stand in for two gateways sharing a database.
class TwoGateways : public ::testing::Test {
 protected:
  Scratch schema_;
  std::unique_ptr<Store> first_ = open_postgres(schema_.conninfo());
  std::unique_ptr<Store> second_ = open_postgres(schema_.conninfo());
  Store* first = first_.get();
  Store* second = second_.get();
};

TEST_F(TwoGateways, SeeEachOthersWrites) {

  User alice;
  alice.name = "alice";
  alice.created_at = kNow;
  ASSERT_TRUE(first->create_user(alice));
  EXPECT_TRUE(second->get_user("alice").has_value());
  EXPECT_FALSE(second->create_user(alice)) << "the name is taken through the other store";

  ASSERT_TRUE(second->create_activation(activation_with_limit("act-1", 1)));
  ASSERT_EQ(first->list_activations().size(), 1u);
  EXPECT_EQ(first->consume_activation("act-1", kNow), ConsumeResult::kConsumed);
  EXPECT_EQ(second->consume_activation("act-1", kNow), ConsumeResult::kExhausted);

  AuditEvent event;
  event.time = kNow;
  event.action = "auth:Login";
  const auto id_one = first->append_audit(event);
  const auto id_two = second->append_audit(event);
  EXPECT_GT(id_two, id_one);
  EXPECT_EQ(first->list_audit(0, 10).size(), 2u);

  second->set_preference("session.idle_timeout", "600");
  EXPECT_EQ(first->get_preference("session.idle_timeout"), std::optional<std::string>("600"));
}

TEST_F(TwoGateways, ConsumptionLimitIsExact) {
  ASSERT_TRUE(first->create_activation(activation_with_limit("act-1", 50)));

  std::atomic<int> consumed{0};
  std::atomic<int> exhausted{0};
  auto consume = [&](Store& store) {
    for (int i = 0; i < 100; ++i) {
      const auto result = store.consume_activation("act-1", kNow);
      if (result == ConsumeResult::kConsumed) ++consumed;
      if (result == ConsumeResult::kExhausted) ++exhausted;
    }
  };
  std::thread a(consume, std::ref(*first));
  std::thread b(consume, std::ref(*second));
  a.join();
  b.join();
  EXPECT_EQ(consumed.load(), 50);
  EXPECT_EQ(exhausted.load(), 150);
  EXPECT_EQ(second->get_activation("act-1")->registrations, 50);
}

TEST_F(TwoGateways, ASessionEndsOnce) {
  SessionRecord session;
  session.id = "alice-1";
  session.status = "Connected";
  session.started_at = kNow;
  ASSERT_TRUE(first->create_session(session));

  std::atomic<int> endings{0};
  auto end = [&](Store& store, const std::string& reason) {
    SessionRecord ended = session;
    ended.status = "Terminated";
    ended.reason = reason;
    ended.ended_at = kNow + 1;
    if (store.end_session(ended)) ++endings;
  };
  std::thread a(end, std::ref(*first), "exited");
  std::thread b(end, std::ref(*second), "terminated by admin");
  a.join();
  b.join();
  EXPECT_EQ(endings.load(), 1);
  EXPECT_EQ(first->list_sessions(false, 10).size(), 1u);
}

TEST(PostgresStore, OpeningAgainMigratesOnceEvenConcurrently) {
  Scratch schema;
  open_postgres(schema.conninfo()).reset();
  open_postgres(schema.conninfo()).reset();

  Scratch fresh;
  std::atomic<int> failures{0};
  std::vector<std::thread> gateways;
  for (int i = 0; i < 4; ++i) {
    gateways.emplace_back([&] {
      try {
        open_postgres(fresh.conninfo()).reset();
      } catch (const Error& error) {
        ++failures;
        ADD_FAILURE() << error.what();
      }
    });
  }
  for (auto& gateway : gateways) gateway.join();
  EXPECT_EQ(failures.load(), 0);
  auto store = open_postgres(fresh.conninfo());
  EXPECT_TRUE(store->list_users().empty());
}

TEST(PostgresStore, RefusesASchemaNewerThanItKnows) {
  Scratch schema;
  open_postgres(schema.conninfo()).reset();
  running_server().execute("INSERT INTO " + schema.name() + ".schema_version (version) VALUES (99)");
  try {
    open_postgres(schema.conninfo());
    FAIL() << "expected store::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("newer"), std::string::npos) << error.what();
  }
}

TEST(PostgresStore, UnreachableServerThrowsWithoutThePassword) {
  // Nothing listens on port 1.
  const std::string secret = "s3cret-Pa55word";
  for (const std::string& conninfo :
       {"host=127.0.0.1 port=1 dbname=sallyport user=gw password=" + secret + " connect_timeout=2",
        "postgresql://gw:" + secret + "@127.0.0.1:1/sallyport?connect_timeout=2"}) {
    try {
      open_postgres(conninfo);
      FAIL() << "expected store::Error";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.find(secret), std::string::npos) << message;
      EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
      EXPECT_NE(message.find("sallyport"), std::string::npos) << message;
    }
  }
}

TEST(PostgresStore, MalformedConnectionStringThrowsWithoutQuotingIt) {
  const std::string secret = "s3cret-Pa55word";
  try {
    open_postgres("host=127.0.0.1 password " + secret);
    FAIL() << "expected store::Error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).find(secret), std::string::npos) << error.what();
  }
}

TEST(PostgresStore, RefusedLoginIsAnErrorWithoutThePassword) {
  const std::string secret = "Wr0ng-Pa55word";
  try {
    open_postgres(running_server().conninfo("user=no_such_role password=" + secret));
    FAIL() << "expected store::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
    EXPECT_NE(message.find("no_such_role"), std::string::npos) << message;
  }
}

TEST(PostgresStore, ErrorsCarryTheServersMessageButNoValues) {
  Scratch schema;
  auto store = open_postgres(schema.conninfo());
  const std::string secret_hash = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e7";
  try {
    store->create_token({secret_hash, "nobody-user", kNow, kNow + 1});  // no such user
    FAIL() << "expected store::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("foreign key"), std::string::npos) << message;
    EXPECT_EQ(message.find(secret_hash), std::string::npos) << message;
    EXPECT_EQ(message.find("nobody-user"), std::string::npos) << message;
  }
  EXPECT_TRUE(store->list_users().empty()) << "the connection is still usable";
}

// SQLite keeps a NUL inside text; PostgreSQL cannot, so it is an error, never a shortened value.
TEST(PostgresStore, TextWithANulByteIsRefused) {
  Scratch schema;
  auto store = open_postgres(schema.conninfo());
  User user;
  user.name = std::string("ali\0ce", 6);
  EXPECT_THROW(store->create_user(user), Error);
  EXPECT_FALSE(store->get_user("ali").has_value());
  EXPECT_TRUE(store->list_users().empty());
}

TEST(PostgresStore, ReconnectsAfterTheServerDropsTheConnection) {
  Scratch schema;
  auto store = open_postgres(schema.conninfo() + " application_name=sallyport-reconnect-test");
  User alice;
  alice.name = "alice";
  ASSERT_TRUE(store->create_user(alice));
  running_server().execute(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = 'sallyport-reconnect-test'");
  // The call that meets the dead connection fails; the next one reconnects.
  EXPECT_THROW(store->list_users(), Error);
  ASSERT_EQ(store->list_users().size(), 1u);
}

}  // namespace
}  // namespace sallyport::store
