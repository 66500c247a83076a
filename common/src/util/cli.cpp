#include "common/util/cli.hpp"

#include <boost/program_options.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace common::cli {
namespace po = boost::program_options;

namespace {

std::vector<Option> with_common(const Spec& spec) {
  auto opts = spec.options;
  opts.push_back({"log-level", "/log/level", Type::kString, "trace, debug, info, warn, error (default info)"});
  opts.push_back({"log-format", "/log/format", Type::kString, "text or json (default text)"});
  return opts;
}

std::string env_name(const std::string& prefix, const std::string& flag) {
  std::string s = prefix;
  for (char c : flag) s.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return s;
}

nlohmann::json typed_value(const Option& o, const std::string& raw) {
  switch (o.type) {
    case Type::kString:
      return raw;
    case Type::kInt: {
      std::size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(raw, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != raw.size() || raw.empty()) throw std::invalid_argument("--" + o.flag + " takes an integer, got \"" + raw + "\"");
      return v;
    }
    case Type::kBool:
      if (raw == "true" || raw == "1" || raw == "yes") return true;
      if (raw == "false" || raw == "0" || raw == "no") return false;
      throw std::invalid_argument("--" + o.flag + " takes true or false, got \"" + raw + "\"");
  }
  return raw;
}

}  // namespace

Parsed parse(int argc, char** argv, const Spec& spec) {
  const auto options = with_common(spec);
  po::options_description desc(spec.program + ": " + spec.summary + "\n\nOptions");
  desc.add_options()("help,h", "print this help and exit")("version", "print the version and exit")(
      "config", po::value<std::string>(), "JSON config file (docs/configuration.md)")(
      "check-config", "validate the configuration, print it and exit");
  for (const auto& o : options) {
    const std::string help = o.help + " [env " + env_name(spec.env_prefix, o.flag) + "]";
    desc.add_options()(o.flag.c_str(), po::value<std::string>(), help.c_str());
  }
  po::options_description hidden;
  hidden.add_options()("positional", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("positional", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    // Environment after the command line: the first value stored wins, so flags beat env.
    po::store(po::parse_environment(desc,
                                    [&](const std::string& var) -> std::string {
                                      for (const auto& o : options) {
                                        if (var == env_name(spec.env_prefix, o.flag)) return o.flag;
                                      }
                                      if (var == spec.env_prefix + "CONFIG") return "config";
                                      return "";
                                    }),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw std::invalid_argument(e.what());
  }

  Parsed out;
  if (vm.count("help")) {
    std::cout << desc << "\n";
    if (!spec.positional_help.empty()) std::cout << spec.positional_help << "\n";
    out.exit_now = 0;
    return out;
  }
  if (vm.count("version")) {
    std::cout << spec.program << " " << CASEBUS_VERSION << "\n";
    out.exit_now = 0;
    return out;
  }
  if (vm.count("positional")) out.positional = vm["positional"].as<std::vector<std::string>>();
  if (!out.positional.empty() && spec.positional_help.empty()) {
    throw std::invalid_argument("unexpected argument \"" + out.positional.front() + "\"");
  }
  out.check_only = vm.count("check-config") > 0;

  if (vm.count("config")) {
    const auto path = vm["config"].as<std::string>();
    out.config_path = path;
    std::ifstream f(path);
    if (!f) throw std::invalid_argument("cannot read config file " + path);
    try {
      out.config = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument("config file " + path + ": " + e.what());
    }
    if (!out.config.is_object()) throw std::invalid_argument("config file " + path + ": must be a JSON object");
  }
  for (const auto& o : options) {
    if (!vm.count(o.flag)) continue;
    out.config[nlohmann::json::json_pointer(o.pointer)] = typed_value(o, vm[o.flag].as<std::string>());
  }
  return out;
}

}  // namespace common::cli
