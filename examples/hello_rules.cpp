// The smallest useful program: one rule that tags and answers a keyword, in memory.
#include <tagflow/tagflow.hpp>

#include <iostream>

int main() {
    tagflow::engine engine(tagflow::make_memory_store());
    engine.load_definitions(R"json({
      "schema": 1,
      "tags": ["Muốn thanh toán"],
      "rules": [{"name": "checkout", "when": "message_received", "filter": {"contains": "thanh toán"},
                 "then": [{"add_tag": "Muốn thanh toán"}, {"send": "Dạ, shop gửi bạn link thanh toán ạ."}]}]
    })json");

    // Case and accents do not matter: "THANH TOAN" matches "thanh toán".
    const auto result = engine.ingest(tagflow::event::message({"zalo", "1001"}, "Cho mình THANH TOAN nhé"));
    for (const auto& m : engine.outbox()) {
        std::cout << m.to.to_string() << " <- " << m.text << "\n";
    }
    return result.tags_added.size() == 1 ? 0 : 1;
}
