// The JSON contract between broker and CLI, and request ids.
#include "common/model.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "common/error.hpp"

using namespace apono::common;

TEST_CASE("request ids") {
  CHECK(format_request_id(12) == "AR-00012");
  CHECK(format_request_id(123456) == "AR-123456");
  CHECK(parse_request_id("AR-00012") == 12);
  CHECK(parse_request_id("ar-12") == 12);
  CHECK(parse_request_id("12") == 12);
  for (const char* bad : {"", "AR-", "AR-x", "AR--1", "0", "-3", "AR-12a", "99999999999999999999"})
    CHECK_FALSE(parse_request_id(bad).has_value());
}

TEST_CASE("statuses") {
  CHECK(to_string(status::revoking) == "REVOKING");
  CHECK(parse_status("active") == status::active);
  CHECK_FALSE(parse_status("ACTIVEX").has_value());
  CHECK(is_final(status::expired));
  CHECK_FALSE(is_final(status::revoking));
}

TEST_CASE("a request survives the JSON round trip") {
  access_request r;
  r.id = 7;
  r.requester = "alice";
  r.integration = "pg";
  r.resource_type = "database";
  r.duration = std::chrono::seconds{600};
  r.justification = "why \"quoted\"";
  r.state = status::active;
  r.flow = "f";
  r.automatic = true;
  r.created_at = from_unix_ms(1'800'000'000'123);
  r.updated_at = r.created_at;
  r.active_from = r.created_at;
  r.ends_at = *r.active_from + std::chrono::seconds{600};
  r.units = {{1, "pg", "database", "appdb", "read_only", status::active, ""},
             {2, "pg", "database", "appdb", "read_write", status::active, ""}};
  auto v = to_json(r);
  CHECK(v.at("id") == "AR-00007");
  CHECK(v.at("resources").as_array().size() == 1);
  CHECK(v.at("permissions").as_array().size() == 2);
  auto back = request_from_json(boost::json::parse(boost::json::serialize(v)));
  CHECK(back.id == 7);
  CHECK(back.justification == r.justification);
  CHECK(back.ends_at == r.ends_at);
  CHECK(back.units.size() == 2);
  CHECK(back.units[1].permission == "read_write");
  CHECK_THROWS_AS(request_from_json(boost::json::parse("[1]")), api_error);
}

TEST_CASE("connection strings percent-encode credentials") {
  unit_credentials c;
  c.host = "127.0.0.1";
  c.port = 5433;
  c.database = "app db";
  c.username = "apono_ar1_x";
  c.password = "p@ss/w:rd";
  c.sslmode = "prefer";
  CHECK(postgres_uri(c) ==
        "postgresql://apono_ar1_x:p%40ss%2Fw%3Ard@127.0.0.1:5433/app%20db?sslmode=prefer");
}
