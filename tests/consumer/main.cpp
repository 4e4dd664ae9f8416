#include <tagflow/tagflow.hpp>

#include <iostream>

int main() {
    tagflow::engine engine(tagflow::make_memory_store());
    engine.load_definitions(R"({"schema": 1, "tags": ["Khách mới"],
      "rules": [{"name": "w", "when": "first_message", "then": [{"add_tag": "Khách mới"}]}]})");
    const auto r = engine.ingest(tagflow::event::message({"zalo", "1"}, "Xin chào"));
    std::cout << "tagflow " << tagflow::version_string() << ": " << r.tags_added.size() << " tag added\n";
    return r.tags_added.size() == 1 ? 0 : 1;
}
