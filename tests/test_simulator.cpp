#include <catch2/catch.hpp>

#include <tagflow/tagflow.hpp>

#include <filesystem>

using namespace tagflow;

namespace {

const std::filesystem::path scenarios = std::filesystem::path(TAGFLOW_TEST_DATA_DIR) / "scenarios";

std::string wrap(const std::string& steps) {
    return R"({"name": "t", "definitions": {"schema": 1, "tags": ["A"],
      "rules": [{"name": "r", "when": "message_received", "then": [{"add_tag": "A"}, {"send": "ok"}]}]},
      "steps": )" +
           steps + "}";
}

} // namespace

TEST_CASE("every acceptance scenario file passes in memory", "[simulator]") {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(scenarios)) {
        if (entry.path().extension() != ".json") {
            continue;
        }
        ++count;
        const auto result = run_scenario_file(entry.path());
        INFO(result.transcript);
        CHECK(result.passed);
        CHECK(result.checks > 0);
    }
    CHECK(count >= 2);
}

TEST_CASE("a scenario runs the same on a SQLite store", "[simulator][sqlite]") {
    const auto db = std::filesystem::temp_directory_path() / "tagflow_simulator_test.db";
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(db.string() + suffix);
    }
    const auto result =
        run_scenario_file(scenarios / "s5_first_time_returning.json", open_sqlite_store(db.string()));
    INFO(result.transcript);
    CHECK(result.passed);
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(db.string() + suffix);
    }
}

TEST_CASE("failed expectations are reported with the step's path, not thrown", "[simulator]") {
    const auto result = run_scenario(wrap(R"([
      {"at": "D0 10:00", "event": {"kind": "message_received", "identity": "zalo:1", "text": "hi"}},
      {"expect": {"contact": "zalo:1", "tags": ["B"], "sent": [{"to": "zalo:1", "text": "not ok"}]}},
      {"expect": {"contact": "zalo:2"}}
    ])"));
    CHECK_FALSE(result.passed);
    REQUIRE(result.failures.size() == 3);
    CHECK(result.failures[0].rfind("$.steps[1].expect.sent[0].text:", 0) == 0);
    CHECK(result.failures[1].rfind("$.steps[1].expect.tags:", 0) == 0);
    CHECK(result.failures[2].rfind("$.steps[2].expect.contact:", 0) == 0);
    CHECK(result.transcript.find("FAILED") != std::string::npos);
}

TEST_CASE("a refused event is an expectation the scenario can state", "[simulator]") {
    const auto ok = run_scenario(wrap(R"([
      {"at": "D0 10:00", "event": {"kind": "postback", "identity": "zalo:1"}, "refused": "payload"}])"));
    CHECK(ok.passed);
    const auto wrong_field = run_scenario(wrap(R"([
      {"at": "D0 10:00", "event": {"kind": "postback", "identity": "zalo:1"}, "refused": "text"}])"));
    CHECK_FALSE(wrong_field.passed);
    const auto accepted = run_scenario(wrap(R"([
      {"at": "D0 10:00", "event": {"kind": "message_received", "identity": "zalo:1", "text": "x"}, "refused": "text"}])"));
    CHECK_FALSE(accepted.passed);
}

TEST_CASE("scenario times are local to the scenario's zone", "[simulator]") {
    const auto result = run_scenario(wrap(R"([
      {"at": "D1 07:30", "event": {"kind": "message_received", "identity": "zalo:1", "text": "x"}},
      {"expect": {"contact": "zalo:1", "activity": {"last_inbound": "2026-01-06T00:30:00Z"}}}])"));
    INFO(result.transcript);
    CHECK(result.passed);
}

TEST_CASE("a malformed scenario throws naming the JSON path", "[simulator]") {
    auto path_of = [](const std::string& doc) {
        try {
            run_scenario(doc);
        } catch (const definition_error& e) {
            return e.path();
        }
        return std::string("(no error)");
    };
    CHECK(path_of("{") == "$");
    CHECK(path_of(wrap(R"([{"at": "tomorrow"}])")) == "$.steps[0].at");
    CHECK(path_of(wrap(R"([{"at": "D1 10:00"}, {"at": "D0 10:00"}])")) == "$.steps[1].at");
    CHECK(path_of(wrap(R"([{"expect": {"colour": "red"}}])")) == "$.steps[0].expect.colour");
    CHECK(path_of(wrap(R"([{"event": {"kind": "nope", "identity": "zalo:1"}}])")) == "$.steps[0].event.kind");
    CHECK(path_of(R"({"definitions": {"schema": 1, "tags": [1]}, "steps": []})") == "$.definitions.tags[0]");
    CHECK(path_of(R"({"steps": []})") == "$.definitions");
}

TEST_CASE("scenario times refuse trailing junk", "[simulator]") {
    try {
        run_scenario(wrap(R"([{"at": "D0 10:00x"}])"));
        FAIL("accepted");
    } catch (const definition_error& e) {
        CHECK(e.path() == "$.steps[0].at");
    }
    CHECK(run_scenario(wrap(R"([{"at": "D0 10:00:30"}])")).passed);
}
