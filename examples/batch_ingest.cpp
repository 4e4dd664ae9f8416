// Group commit: many events in one transaction, e.g. when importing orders from a POS.
#include <tagflow/tagflow.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <vector>

int main() {
    const auto db = std::filesystem::temp_directory_path() / "tagflow_batch_example.db";
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(db.string() + suffix);
    }
    auto engine = tagflow::engine::open(db.string());
    engine.load_definitions(R"json({"schema": 1, "tags": ["Khách VIP"],
      "rules": [{"name": "vip", "when": "order_placed", "if": "total_spent >= 5000000", "once": true,
                 "then": [{"add_tag": "Khách VIP"}]}]})json");

    std::vector<tagflow::event> orders;
    for (int i = 0; i < 1000; ++i) {
        const tagflow::identity who{"pos", "customer-" + std::to_string(i % 100)};
        orders.push_back(tagflow::event::order_of(who, {"POS-" + std::to_string(i), 600000, "VND", {"Áo"}})
                             .with_key("pos-order-" + std::to_string(i)));
    }
    const auto results = engine.ingest_batch(orders); // one transaction, one fsync
    std::size_t vips = 0;
    for (const auto& c : engine.contacts()) {
        vips += c.has_tag("Khách VIP") ? 1 : 0;
    }
    std::cout << results.size() << " orders, " << engine.contacts().size() << " contacts, " << vips
              << " VIP\n";

    // Importing the same file again is harmless: every key was seen.
    const auto again = engine.ingest_batch(orders);
    std::cout << "re-import duplicates: "
              << std::count_if(again.begin(), again.end(), [](const auto& r) { return r.duplicate; }) << "\n";
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(db.string() + suffix);
    }
    return vips == 100 ? 0 : 1;
}
