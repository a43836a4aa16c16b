// ocelle-cli's subcommands. Each lives in its own cmd_*.cpp and registers itself with
// OCELLE_CLI_COMMAND, so adding one never touches main.cpp.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::cli {

// A usage error: main prints it with the command's help and exits with status 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Command-line arguments after the subcommand name: "--name value" options, "--flag" switches
// and positionals. Every option a command accepts must be declared before it is read, so an
// unknown or misspelt one is an error instead of being ignored.
class Args {
public:
    Args(std::vector<std::string> argv, std::vector<std::string> valueOptions, std::vector<std::string> flags);

    const std::vector<std::string>& positionals() const { return positionals_; }
    bool flag(const std::string& name) const;
    std::optional<std::string> value(const std::string& name) const;  // the last occurrence
    std::vector<std::string> values(const std::string& name) const;   // every occurrence
    std::string require(const std::string& name) const;
    long long integer(const std::string& name, long long fallback) const;
    double number(const std::string& name, double fallback) const;

private:
    std::map<std::string, std::vector<std::string>> values_;
    std::vector<std::string> flags_;
    std::vector<std::string> positionals_;
};

struct Command {
    const char* name;
    const char* summary; // one line for `ocelle-cli --help`
    const char* usage;   // full help for `ocelle-cli NAME --help`
    int (*run)(const std::vector<std::string>& argv);
};

const std::vector<Command>& commands();

struct CommandRegistrar {
    explicit CommandRegistrar(const Command& command);
};

} // namespace ocelle::cli

#define OCELLE_CLI_COMMAND(ident, ...)                                                                     \
    static const ::ocelle::cli::CommandRegistrar ocelleCliRegistrar_##ident { ::ocelle::cli::Command{__VA_ARGS__} }
