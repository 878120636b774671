#pragma once
// The command-line rules every tool follows (CLI11 underneath): --help and --version
// print and exit 0; any parse or validation error is one line on stderr prefixed
// with the tool's name, and exit code 2 (the README's 0-3 rule), never CLI11's own
// codes (104, 105, ...). Number checks say what was expected in plain numbers.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "common/choice.hpp"
#include "common/error.hpp"

namespace fer::cli {

// Parses; nullopt to go on, or the exit code to return from main() now.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv, const char* tool) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e);
    return kExitOk;
  } catch (const CLI::CallForAllHelp& e) {
    app.exit(e);
    return kExitOk;
  } catch (const CLI::CallForVersion& e) {
    app.exit(e);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::cerr << tool << ": error: " << e.what() << " (see " << tool << " --help)" << std::endl;
    return kExitInputError;
  }
  return std::nullopt;
}

namespace detail {
inline std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}
// A check of one number: `ok` decides, `expected` says what was wanted.
template <class Ok>
CLI::Validator number_check(Ok ok, const std::string& expected) {
  return CLI::Validator(
      [ok, expected](std::string& text) -> std::string {
        double value = 0;
        std::size_t used = 0;
        try {
          value = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != text.size()) return "'" + text + "' is not a number";
        return ok(value) ? std::string() : "expected " + expected + ", got " + text;
      },
      expected);
}
}  // namespace detail

// An option whose value is a choice enum (common/choice.hpp): its names are the only
// values accepted (others are a usage error listing them), and --help shows the default.
template <typename Choice>
CLI::Option* add_choice(CLI::App& app, const std::string& name, Choice& target,
                        const std::string& doc) {
  return app
      .add_option_function<std::string>(
          name,
          [&target, name](const std::string& text) { target = parse_choice<Choice>(text, name); },
          doc)
      ->check(CLI::IsMember(choice_names<Choice>()))
      ->default_str(std::string(name_of(target)));
}

inline CLI::Validator above(double low) {
  return detail::number_check([low](double v) { return v > low; },
                              "a number > " + detail::number(low));
}
inline CLI::Validator at_least(double low) {
  return detail::number_check([low](double v) { return v >= low; },
                              "a number >= " + detail::number(low));
}
inline CLI::Validator between(double low, double high) {
  return detail::number_check(
      [low, high](double v) { return v >= low && v <= high; },
      "a number in [" + detail::number(low) + ", " + detail::number(high) + "]");
}

}  // namespace fer::cli
