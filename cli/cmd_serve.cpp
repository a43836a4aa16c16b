// `ocelle-cli serve`: the local OpenAI-compatible server without the app (app/server).
#include "backend_option.h"
#include "command.h"

#include <cstdio>
#include <string>

#ifdef OCELLE_CLI_HAVE_SERVER
#include "cpu/matmul.h"
#include "openai_server.h"
#include "served_model.h"

#include <QCoreApplication>
#include <QHostAddress>
#include <csignal>
#include <cstdlib>
#endif

namespace ocelle::cli {
namespace {

constexpr const char* kUsage =
    "Usage: ocelle-cli serve --model PATH [--mmproj PATH] [--port N] [--host ADDRESS] [options]\n\n"
    "Serves the model over OpenAI's chat-completions API until stopped (Ctrl-C):\n"
    "GET /v1/models, POST /v1/chat/completions (stream true or false; images as image_url data:\n"
    "URLs and audio as input_audio with --mmproj). Prints \"Serving MODEL at URL\" once ready.\n\n"
    "  --model PATH        a Gemma 4 GGUF file\n"
    "  --mmproj PATH       its mmproj file, for images and audio\n"
    "  --port N            the TCP port (default 8080; 0 picks a free one, printed)\n"
    "  --host ADDRESS      the address to listen on (default 127.0.0.1, this computer only;\n"
    "                      any other address lets other machines in, with a warning)\n"
    "  --api-key KEY       require \"Authorization: Bearer KEY\" (or set OCELLE_API_KEY)\n"
    "  --ctx N             context length (default: the model's, at most 8192)\n"
    "  --max-body-mb N     the largest request body in MiB (default 32; larger ones get 413)\n"
    "  --queue N           requests that may wait behind the one being answered (default 4;\n"
    "                      more get 503)\n"
    "  --threads N         CPU threads (default: all)\n"
    "  --backend auto|cpu|vulkan  the backend (default auto: Vulkan on a usable GPU, else the CPU)\n"
    "  --device X          Vulkan device index or name substring";

#ifdef OCELLE_CLI_HAVE_SERVER
extern "C" void onStopSignal(int) {
    QCoreApplication::exit(0);
}

int runServe(const std::vector<std::string>& argv) {
    Args args(argv,
              {"--model", "--mmproj", "--port", "--host", "--api-key", "--ctx", "--max-body-mb", "--queue",
               "--threads", "--backend", "--device"},
              {});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string modelPath = args.require("--model");
    const std::string mmproj = args.value("--mmproj").value_or("");
    server::ServerOptions options;
    const long long port = args.integer("--port", 8080);
    if (port < 0 || port > 65535) throw UsageError("--port must be from 0 to 65535");
    options.port = quint16(port);
    const std::string host = args.value("--host").value_or("127.0.0.1");
    options.address = host == "localhost" ? QHostAddress(QHostAddress::LocalHost)
                                          : QHostAddress(QString::fromStdString(host));
    if (options.address.isNull())
        throw UsageError("--host must be an IP address such as 127.0.0.1 or 0.0.0.0");
    if (const char* key = std::getenv("OCELLE_API_KEY"); key && *key) options.apiKey = QString::fromUtf8(key);
    if (auto key = args.value("--api-key")) options.apiKey = QString::fromStdString(*key);
    const long long maxMb = args.integer("--max-body-mb", 32);
    if (maxMb < 1 || maxMb > 4096) throw UsageError("--max-body-mb must be from 1 to 4096");
    options.maxRequestBytes = maxMb * 1024 * 1024;
    const long long queue = args.integer("--queue", 4);
    if (queue < 0 || queue > 1000) throw UsageError("--queue must be from 0 to 1000");
    options.maxQueued = int(queue);
    const long long ctx = args.integer("--ctx", 0);
    if (ctx < 0 || ctx > INT32_MAX) throw UsageError("--ctx must be a positive number of tokens");
    const long long threads = args.integer("--threads", 0);
    if (threads < 0 || threads > 1024) throw UsageError("--threads must be between 1 and 1024");

    int argc = 1;
    char name[] = "ocelle-cli";
    char* qtArgv[] = {name, nullptr};
    QCoreApplication app(argc, qtArgv);

    engine::LoadOptions loadOptions = backendOptions(args);
    loadOptions.threads = int(threads);
    announceBackend(loadOptions);
    // On the CPU, 8-bit activations as in the app (docs/benchmarks.md says why);
    // OCELLE_CPU_ACTIVATIONS=exact keeps the exact products.
    cpu::setDefaultActivationPrecision(cpu::ActivationPrecision::Q8);
    auto model = std::shared_ptr<server::ServedModel>(
        server::ServedModel::load(modelPath, mmproj, loadOptions, int(ctx)));
    server::OpenAiServer server(model, options);
    QObject::connect(&server, &server::OpenAiServer::requestLogged,
                     [](const QString& line) { std::fprintf(stderr, "%s\n", qPrintable(line)); });
    QString problem;
    if (!server.start(&problem))
        throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                 problem.toStdString());
    if (!server::isLoopback(options.address))
        std::fprintf(
            stderr,
            "ocelle-cli serve: warning: listening on %s, so other computers on the network can reach "
            "the model%s\n",
            host.c_str(), options.apiKey.isEmpty() ? " (and no --api-key is set)" : "");
    if (model->hasProjector() && !model->visionProblem().empty())
        std::fprintf(stderr, "ocelle-cli serve: no images: %s\n", model->visionProblem().c_str());
    if (model->hasProjector() && !model->audioProblem().empty())
        std::fprintf(stderr, "ocelle-cli serve: no audio: %s\n", model->audioProblem().c_str());
    std::string takes;
    for (const std::string& capability : model->capabilities())
        takes += (takes.empty() ? "" : ", ") + capability;
    std::printf("Serving %s at %s (context %d tokens; %s)\n", model->id().c_str(),
                qPrintable(server.baseUrl()), model->contextLength(), takes.c_str());
    std::fflush(stdout);
    std::signal(SIGINT, onStopSignal);
    std::signal(SIGTERM, onStopSignal);
    return app.exec();
}
#else
int runServe(const std::vector<std::string>&) {
    throw std::runtime_error(
        "this ocelle-cli was built without the server (it needs Qt's HttpServer module and "
        "is built with the app: configure with OCELLE_BUILD_APP=ON)");
}
#endif

} // namespace

OCELLE_CLI_COMMAND(serve, "serve", "serve a model over OpenAI's chat-completions API (HTTP)", kUsage,
                   runServe);

} // namespace ocelle::cli
