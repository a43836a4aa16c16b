// `ocelle-cli embed-audio`: an audio file through Gemma 4's audio encoder, the soft tokens written
// as raw little-endian f32.
#include "backend_option.h"
#include "command.h"

#include "audio/audio_encoder.h"
#include "gguf/gguf.h"
#include "model/hparams.h"

#include <bit>
#include <cstdio>
#include <fstream>

#ifdef OCELLE_CLI_HAVE_MEDIA
#include "media/media_encoding.h"
#endif

namespace ocelle::cli {

namespace {

constexpr const char* kUsage =
    "Usage: ocelle-cli embed-audio --mmproj PATH --audio FILE --out FILE.bin [--model PATH]\n"
    "                              [--backend auto|cpu|vulkan] [--device X] [--threads N]\n\n"
    "Encodes an audio file with Gemma 4's audio encoder (E2B/E4B mmproj) and writes the projected\n"
    "embeddings (the text model's soft tokens) as little-endian f32, tokens x width, row-major.\n"
    "Prints {\"seconds\": S, \"tokens\": N, \"width\": W}.\n\n"
    "  --mmproj PATH   the mmproj GGUF holding the audio tower\n"
    "  --audio FILE    WAV, FLAC, MP3, OGG/Opus, M4A, or the audio track of a video; resampled to\n"
    "                  16 kHz mono; longer than 30 s: split into 30 s pieces encoded one after the\n"
    "                  other, their tokens concatenated (one audio span)\n"
    "  --out FILE.bin  where to write the embeddings\n"
    "  --model PATH    optional text model: checked to take audio at the encoder's width\n"
    "  --backend auto|cpu|vulkan  where the encoder runs (default auto: as the text model would)\n"
    "  --device X      Vulkan device index or name substring\n"
    "  --threads N     CPU threads (default: all)";

int runEmbedAudio(const std::vector<std::string>& argv) {
    static_assert(std::endian::native == std::endian::little, "the output is written as host floats");
    Args args(argv, {"--mmproj", "--audio", "--out", "--model", "--backend", "--device", "--threads"}, {});
    if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string mmproj = args.require("--mmproj");
    const std::string audioPath = args.require("--audio");
    const std::string outPath = args.require("--out");
    const long long threads = args.integer("--threads", 0);
    if (threads < 0 || threads > 1024) throw UsageError("--threads must be between 1 and 1024");

#ifndef OCELLE_CLI_HAVE_MEDIA
    throw std::runtime_error(audioPath + ": this ocelle-cli was built without media support "
                                         "(OCELLE_BUILD_APP=OFF), so it cannot decode audio files");
#else
    engine::LoadOptions backend = backendOptions(args);
    backend.threads = int(threads);
    announceBackend(backend);
    auto encoder = engine::loadAudioEncoder(mmproj, backend);
    if (auto model = args.value("--model"))
        encoder->checkCompatible(model::HyperParams::fromFile(*gguf::File::open(*model)), *model);
    const media::EncodedAudio encoded = media::encodeAudioFile(*encoder, audioPath);

    std::ofstream out(outPath, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(encoded.embeddings.data()),
              std::streamsize(encoded.embeddings.size() * sizeof(float)));
    out.close();
    if (!out) throw std::runtime_error(outPath + ": cannot write the embeddings");
    std::printf("{\"seconds\": %.6g, \"tokens\": %d, \"width\": %d}\n", encoded.seconds, encoded.tokens,
                encoder->params().projectionDim);
    return 0;
#endif
}

} // namespace

OCELLE_CLI_COMMAND(embed_audio, "embed-audio",
                   "encode an audio file into Gemma 4 soft tokens (E2B/E4B mmproj)", kUsage, runEmbedAudio);

} // namespace ocelle::cli
