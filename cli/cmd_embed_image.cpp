// `ocelle-cli embed-image`: an image file through Gemma 4's vision encoder, the soft tokens written
// as raw little-endian f32.
#include "backend_option.h"
#include "command.h"

#include "gguf/gguf.h"
#include "model/hparams.h"
#include "vision/vision_encoder.h"

#include <bit>
#include <cstdio>
#include <fstream>

#ifdef OCELLE_CLI_HAVE_MEDIA
#include "media/media_encoding.h"
#endif

namespace ocelle::cli {

namespace {

constexpr const char* kUsage =
    "Usage: ocelle-cli embed-image --mmproj PATH --image FILE --out FILE.bin [--budget B]\n"
    "                              [--policy hf|llama] [--model PATH] [--backend auto|cpu|vulkan]\n"
    "                              [--device X] [--threads N]\n\n"
    "Encodes an image with Gemma 4's vision encoder (mmproj) and writes the projected embeddings\n"
    "(the text model's soft tokens) as little-endian f32, tokens x width, row-major over the pooled\n"
    "grid. Prints {\"width\": W, \"height\": H, \"tokens\": N} (W x H: the preprocessed size).\n\n"
    "  --mmproj PATH   the mmproj GGUF holding the vision tower (projector gemma4v)\n"
    "  --image FILE    PNG, JPEG, WebP, BMP, TIFF or GIF (first frame)\n"
    "  --out FILE.bin  where to write the embeddings\n"
    "  --budget B      soft tokens: 70, 140, 280, 560 or 1120 (default 280 with hf, 1120 with llama;\n"
    "                  1120 suits documents with small text)\n"
    "  --policy P      hf: Hugging Face's sizing (default); llama: llama.cpp's (sides rounded to 48,\n"
    "                  70..B tokens, padded with black), to reproduce llama.cpp's embeddings\n"
    "  --model PATH    optional text model: checked to take the encoder's output width\n"
    "  --backend auto|cpu|vulkan  where the encoder runs (default auto: Vulkan on a usable GPU, else the\n"
    "                  CPU; the same choice as for a text model)\n"
    "  --device X      Vulkan device index or name substring (CPU-type devices such as lavapipe only\n"
    "                  when named or with --backend vulkan)\n"
    "  --threads N     CPU threads (default: all)";

int runEmbedImage(const std::vector<std::string>& argv) {
    static_assert(std::endian::native == std::endian::little, "the output is written as host floats");
    Args args(argv,
              {"--mmproj", "--image", "--out", "--budget", "--policy", "--model", "--backend", "--device",
               "--threads"},
              {});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string mmproj = args.require("--mmproj");
    const std::string imagePath = args.require("--image");
    const std::string outPath = args.require("--out");
    engine::LoadOptions backend = backendOptions(args);
    const std::string policy = args.value("--policy").value_or("hf");
    if (policy != "hf" && policy != "llama") throw UsageError("--policy must be hf or llama");
    const bool llama = policy == "llama";
    const long long budget = args.integer("--budget", llama ? 1120 : 280);
    if (budget != 70 && budget != 140 && budget != 280 && budget != 560 && budget != 1120)
        throw UsageError("--budget must be one of 70, 140, 280, 560, 1120");
    const long long threads = args.integer("--threads", 0);
    if (threads < 0 || threads > 1024) throw UsageError("--threads must be between 1 and 1024");

#ifndef OCELLE_CLI_HAVE_MEDIA
    throw std::runtime_error(imagePath + ": this ocelle-cli was built without media support "
                                         "(OCELLE_BUILD_APP=OFF), so it cannot decode image files");
#else
    // The encoder runs where a text model would (same choice, announced on stderr).
    announceBackend(backend);
    backend.threads = int(threads);
    auto encoder = engine::loadVisionEncoder(mmproj, backend);
    if (auto model = args.value("--model"))
        encoder->checkCompatible(model::HyperParams::fromFile(*gguf::File::open(*model)), *model);
    const media::EncodedImage encoded = media::encodeImageFile(*encoder, imagePath, int(budget),
                                                               llama ? media::ImageSizePolicy::LlamaCpp
                                                                     : media::ImageSizePolicy::HuggingFace);

    std::ofstream out(outPath, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(encoded.embeddings.data()),
              std::streamsize(encoded.embeddings.size() * sizeof(float)));
    out.close();
    if (!out) throw std::runtime_error(outPath + ": cannot write the embeddings");
    std::printf("{\"width\": %d, \"height\": %d, \"tokens\": %d}\n", encoded.width, encoded.height,
                encoded.tokens);
    return 0;
#endif
}

} // namespace

OCELLE_CLI_COMMAND(embed_image, "embed-image", "encode an image into Gemma 4 soft tokens (mmproj)", kUsage,
                   runEmbedImage);

} // namespace ocelle::cli
