#pragma once
// Policy profiles from an already parsed JSON value (the definitions loader and the built-ins).

#include <tagflow/policy.hpp>

#include <boost/json/value.hpp>

#include <string>

namespace tagflow::detail {

// Throws definition_error naming the JSON path under `path`.
policy_profile parse_policy_profile(const boost::json::value& v, std::string name, const std::string& path);

} // namespace tagflow::detail
