// bench_media [VIDEO] [PDF]: how long Ocelle's media front end takes per input: image decode and
// Gemma 4 preprocessing per token budget and policy (fixture photo and document), log-mel features
// per second of audio, audio file decoding; given a video file, sampling 32 frames and
// preprocessing them at budget 70; given a PDF (a file ending in .pdf), opening it and rendering its
// first page with QtPdf at each budget, then preprocessing it. Prints a table; best of several runs
// (the machine may be shared).
#include "media/audio.h"
#include "media/image.h"
#include "media/image_preprocess.h"
#include "media/pdf_document.h"
#include "media/video.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

using namespace ocelle::media;

namespace {

double bestMs(int repeats, const std::function<void()>& work) {
    double best = 1e300;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        work();
        best = std::min(
            best,
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

void row(const std::string& what, const std::string& detail, double ms, const std::string& note = {}) {
    std::printf("| %-28s | %-22s | %10.2f | %-26s |\n", what.c_str(), detail.c_str(), ms, note.c_str());
}

} // namespace

int main(int argc, char** argv) {
    const std::string fixtures = OCELLE_FIXTURES_DIR;
    try {
        std::printf("| %-28s | %-22s | %10s | %-26s |\n", "step", "input", "best ms", "note");
        std::printf("|%s|%s|%s|%s|\n", std::string(30, '-').c_str(), std::string(24, '-').c_str(),
                    std::string(12, '-').c_str(), std::string(28, '-').c_str());
        for (const char* name : {"test_photo.png", "test_document.png"}) {
            const std::string path = fixtures + "/vision/" + name;
            RgbImage image;
            const double decodeMs = bestMs(5, [&] { image = loadImage(path); });
            row("decode", name, decodeMs, std::to_string(image.width) + "x" + std::to_string(image.height));
            for (int budget : {70, 140, 280, 560, 1120}) {
                PreprocessedImage pre;
                const double ms = bestMs(5, [&] { pre = preprocessImage(image, {budget}); });
                row("preprocess HF", std::string(name) + " @" + std::to_string(budget), ms,
                    std::to_string(pre.resized.width) + "x" + std::to_string(pre.resized.height) + ", " +
                        std::to_string(pre.softTokens) + " tokens");
            }
            PreprocessedImage pre;
            const double ms = bestMs(5, [&] {
                pre = preprocessImage(image, {1120, ImageSizePolicy::LlamaCpp});
            });
            row("preprocess llama.cpp", std::string(name) + " @1120", ms,
                std::to_string(pre.resized.width) + "x" + std::to_string(pre.resized.height) + ", " +
                    std::to_string(pre.softTokens) + " tokens");
        }

        std::vector<float> thirtySeconds(static_cast<std::size_t>(kAudioPieceSamples));
        for (std::size_t i = 0; i < thirtySeconds.size(); ++i) {
            thirtySeconds[i] = 0.3f * static_cast<float>(std::sin(2 * std::numbers::pi * 440.0 *
                                                                  static_cast<double>(i) / kAudioSampleRate));
        }
        LogMel mel;
        const double melMs = bestMs(3, [&] { mel = logMelFeatures(thirtySeconds); });
        row("log-mel", "30 s synthetic", melMs,
            std::to_string(mel.frames) + " frames, " + std::to_string(melMs / 30.0).substr(0, 5) + " ms/s");
        DecodedAudio audio;
        const double decodeAudioMs =
            bestMs(5, [&] { audio = decodeAudioFile(fixtures + "/audio/test_speech.wav"); });
        row("audio decode", "test_speech.wav", decodeAudioMs,
            std::to_string(audio.seconds()).substr(0, 4) + " s");

        std::string videoPath, pdfPath;
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            (arg.size() > 4 && arg.compare(arg.size() - 4, 4, ".pdf") == 0 ? pdfPath : videoPath) = arg;
        }
        if (!pdfPath.empty()) {
            std::unique_ptr<PdfDocument> document;
            const double openMs = bestMs(3, [&] { document = std::make_unique<PdfDocument>(pdfPath); });
            row("pdf open", pdfPath.substr(pdfPath.find_last_of('/') + 1), openMs,
                std::to_string(document->pageCount()) + " pages");
            for (int budget : {70, 280, 1120}) {
                RgbImage page;
                const double renderMs = bestMs(3, [&] { page = document->renderPage(0, budget); });
                row("pdf render page 1", "@" + std::to_string(budget), renderMs,
                    std::to_string(page.width) + "x" + std::to_string(page.height));
                PreprocessedImage pre;
                const double preMs = bestMs(3, [&] { pre = preprocessImage(page, {budget}); });
                row("  + preprocess HF", "@" + std::to_string(budget), preMs,
                    std::to_string(pre.softTokens) + " tokens");
            }
        }
        if (!videoPath.empty()) {
            const VideoReader reader(videoPath);
            int frames = 0;
            const double ms = bestMs(1, [&] {
                frames = reader.sampleFrames(
                    {}, [](VideoFrame&& frame) { (void)preprocessImage(frame.image, {kVideoFrameBudget}); });
            });
            row("video 32 frames + @70",
                reader.info().codec + " " + std::to_string(reader.info().width) + "x" +
                    std::to_string(reader.info().height),
                ms, std::to_string(frames) + " frames of " + std::to_string(reader.info().frameCount));
            row("video frame at", "middle",
                bestMs(3, [&] { (void)reader.frameAt(reader.info().durationSeconds / 2); }));
        }
    } catch (const MediaError& error) {
        std::fprintf(stderr, "bench_media: %s\n", error.what());
        return 1;
    }
    return 0;
}
