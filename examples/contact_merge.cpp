// One person, several channels: identities merge on the normalised phone number.
#include <tagflow/tagflow.hpp>

#include <iostream>

int main() {
    tagflow::engine engine(tagflow::make_memory_store());
    engine.load_definitions(R"json({"schema": 1})json");

    engine.ingest(tagflow::event::profile_of({"web", "v3"}, {.name = "Mai", .phone = "0912 345 678"}));
    engine.ingest(tagflow::event::message({"zalo", "555"}, "Chào shop"));
    // Zalo shares the phone later, spelled differently: the two contacts become one.
    const auto r = engine.ingest(tagflow::event::profile_of({"zalo", "555"}, {.phone = "+84 912 345 678"}));

    const auto contacts = engine.contacts();
    std::cout << "contacts: " << contacts.size() << ", merged: " << r.merged.size() << "\n";
    std::cout << engine.contact_json(contacts.front().id) << "\n";
    return contacts.size() == 1 ? 0 : 1;
}
