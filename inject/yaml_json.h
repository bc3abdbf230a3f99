// Between YAML nodes (yaml-cpp) and JSON values (nlohmann), keeping every scalar's type.
//
// yaml-cpp keeps a scalar as text and records how it was written: tag "!" when quoted (a string
// whatever it reads like), "?" when plain (resolved by its text: 8080 is a number, yes a boolean
// to YAML 1.1 readers such as kubectl's). A document that is rewritten must keep both: a quoted
// "8080" written back plain would turn an env value into a number the API server rejects.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

namespace podrouter::config {

// `value` as a YAML node: strings become quoted ("!") scalars, numbers, booleans and null plain.
YAML::Node YamlFromJson(const nlohmann::ordered_json& value);

// A node parsed from JSON text (JSON is YAML) back to JSON: quoted scalars are strings, plain ones
// the JSON literal they spell (a number, true, false), nulls null. For YAML written by hand a plain
// scalar that is no JSON literal (`yes`, `0x1F`) comes back a string.
nlohmann::ordered_json JsonFromYaml(const YAML::Node& node);

// YAML text for `node`, block style unless a collection was written in flow style, two-space
// indent, ending in a newline. A quoted scalar whose text would read as something other than a
// string when plain (a number, a YAML 1.1 boolean, null, anything starting with a digit) is
// written double-quoted; other scalars as yaml-cpp writes them.
std::string EmitYaml(const YAML::Node& node);

}  // namespace podrouter::config
