#pragma once
// Small helpers shared by the test files.

#include <tagflow/definitions.hpp>
#include <tagflow/error.hpp>

#include <string>

namespace tagflow::testing {

// The JSON path a definitions document is refused at, or "(accepted)".
inline std::string refused_path(const std::string& document) {
    try {
        (void)definitions::parse(document);
    } catch (const definition_error& e) {
        return e.path();
    }
    return "(accepted)";
}

} // namespace tagflow::testing
