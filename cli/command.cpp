#include "command.h"

#include <algorithm>
#include <cstdlib>

namespace ocelle::cli {

namespace {
std::vector<Command>& registry() {
    static std::vector<Command> all;
    return all;
}
} // namespace

const std::vector<Command>& commands() { return registry(); }

CommandRegistrar::CommandRegistrar(const Command& command) {
    auto& all = registry();
    auto at = std::lower_bound(all.begin(), all.end(), command,
                               [](const Command& a, const Command& b) { return std::string(a.name) < b.name; });
    all.insert(at, command);
}

Args::Args(std::vector<std::string> argv, std::vector<std::string> valueOptions, std::vector<std::string> flags) {
    auto contains = [](const std::vector<std::string>& v, const std::string& s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    };
    for (size_t i = 0; i < argv.size(); ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0 || arg == "--") {
            positionals_.push_back(arg);
            continue;
        }
        std::optional<std::string> inlineValue;
        if (auto eq = arg.find('='); eq != std::string::npos) {
            inlineValue = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        if (contains(flags, arg) && !inlineValue) {
            flags_.push_back(arg);
        } else if (contains(valueOptions, arg)) {
            if (inlineValue) {
                values_[arg].push_back(*inlineValue);
            } else {
                if (i + 1 >= argv.size()) throw UsageError(arg + " needs a value");
                values_[arg].push_back(argv[++i]);
            }
        } else {
            throw UsageError("unknown option " + arg);
        }
    }
}

bool Args::flag(const std::string& name) const {
    return std::find(flags_.begin(), flags_.end(), name) != flags_.end();
}

std::optional<std::string> Args::value(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> Args::values(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::require(const std::string& name) const {
    auto v = value(name);
    if (!v) throw UsageError(name + " is required");
    return *v;
}

long long Args::integer(const std::string& name, long long fallback) const {
    auto v = value(name);
    if (!v) return fallback;
    char* end = nullptr;
    const long long n = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0') throw UsageError(name + " expects a whole number, got '" + *v + "'");
    return n;
}

double Args::number(const std::string& name, double fallback) const {
    auto v = value(name);
    if (!v) return fallback;
    char* end = nullptr;
    const double n = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0') throw UsageError(name + " expects a number, got '" + *v + "'");
    return n;
}

} // namespace ocelle::cli
