#include "media/pdf_document.h"

#include "media/media_encoding.h"
#include "media/media_error.h"

#include <QImage>
#include <QPdfDocument>
#include <QString>

#include <algorithm>
#include <cmath>

namespace ocelle::media {

namespace {

// A page raster side beyond this is refused (a 1:1000 strip at budget 1120 would otherwise ask
// PDFium for a 50000-pixel side); 48 x 1120 is the longest side any budget can use.
constexpr int kMaxRenderSide = kSoftTokenSide * kDocumentImageBudget;

std::string describeLoadError(QPdfDocument::Error error) {
    switch (error) {
    case QPdfDocument::Error::FileNotFound:
        return "the file does not exist or cannot be opened";
    case QPdfDocument::Error::InvalidFileFormat:
        return "not a PDF file, or the PDF is damaged";
    case QPdfDocument::Error::IncorrectPassword:
        return "the PDF is password-protected (open it in a PDF viewer and save a copy without a password)";
    case QPdfDocument::Error::UnsupportedSecurityScheme:
        return "the PDF is encrypted with a scheme that cannot be opened";
    case QPdfDocument::Error::DataNotYetAvailable:
        return "the file could not be read completely";
    case QPdfDocument::Error::None:
    case QPdfDocument::Error::Unknown:
        break;
    }
    return "the PDF cannot be read";
}

std::string pageRange(int first, int last) { // 0-based in, "pages 3-7" / "page 3" out
    return first == last ? "page " + std::to_string(first + 1)
                         : "pages " + std::to_string(first + 1) + "-" + std::to_string(last + 1);
}

} // namespace

struct PdfDocument::Impl {
    QPdfDocument document;
};

PdfDocument::PdfDocument(const std::string& path) : path_(path), impl_(std::make_unique<Impl>()) {
    const QPdfDocument::Error error = impl_->document.load(QString::fromStdString(path));
    if (error != QPdfDocument::Error::None) throw MediaError(path + ": " + describeLoadError(error));
    if (impl_->document.pageCount() <= 0) throw MediaError(path + ": the PDF has no pages");
}

PdfDocument::~PdfDocument() = default;

int PdfDocument::pageCount() const {
    return impl_->document.pageCount();
}

double PdfDocument::pageWidthPoints(int index) const {
    if (index < 0 || index >= pageCount()) return 0;
    return impl_->document.pagePointSize(index).width();
}

double PdfDocument::pageHeightPoints(int index) const {
    if (index < 0 || index >= pageCount()) return 0;
    return impl_->document.pagePointSize(index).height();
}

ImageSize PdfDocument::renderSize(int index, int budget) const {
    requireValidBudget(budget);
    if (index < 0 || index >= pageCount()) {
        throw MediaError(path_ + ": there is no page " + std::to_string(index + 1) + " (the PDF has " +
                         std::to_string(pageCount()) + ")");
    }
    const double width = pageWidthPoints(index);
    const double height = pageHeightPoints(index);
    if (!(width > 0) || !(height > 0))
        throw MediaError(path_ + ": page " + std::to_string(index + 1) + " has no size");
    const double area = static_cast<double>(budget) * kSoftTokenSide * kSoftTokenSide;
    const double scale = std::sqrt(area / (width * height));
    const ImageSize size{std::max(1, static_cast<int>(std::lround(width * scale))),
                         std::max(1, static_cast<int>(std::lround(height * scale)))};
    if (size.width > kMaxRenderSide || size.height > kMaxRenderSide) {
        throw MediaError(path_ + ": page " + std::to_string(index + 1) + " is too narrow or too long (" +
                         std::to_string(std::lround(width)) + " x " + std::to_string(std::lround(height)) +
                         " points) to be read as one image");
    }
    return size;
}

int PdfDocument::pageSoftTokens(int index, int budget) const {
    const ImageSize size = renderSize(index, budget);
    return softTokenCount(size.width, size.height, budget);
}

RgbImage PdfDocument::renderPage(int index, int budget) const {
    return renderPage(index, renderSize(index, budget));
}

RgbImage PdfDocument::renderPage(int index, ImageSize size) const {
    if (index < 0 || index >= pageCount()) {
        throw MediaError(path_ + ": there is no page " + std::to_string(index + 1) + " (the PDF has " +
                         std::to_string(pageCount()) + ")");
    }
    if (size.width <= 0 || size.height <= 0 || size.width > kMaxRenderSide || size.height > kMaxRenderSide)
        throw MediaError(path_ + ": cannot render a page at " + std::to_string(size.width) + "x" +
                         std::to_string(size.height) + " pixels");
    QPdfDocumentRenderOptions options;
    options.setRenderFlags(QPdfDocumentRenderOptions::RenderFlag::Annotations); // filled-in forms, stamps
    const QImage rendered = impl_->document.render(index, QSize(size.width, size.height), options);
    if (rendered.isNull() || rendered.width() != size.width || rendered.height() != size.height)
        throw MediaError(path_ + ": page " + std::to_string(index + 1) + " could not be rendered");
    // PDFium leaves the paper transparent: lay the page on white, as it prints.
    const QImage rgba = rendered.convertToFormat(QImage::Format_RGBA8888);
    RgbImage out{size.width, size.height,
                 std::vector<std::uint8_t>(static_cast<std::size_t>(size.width) * size.height * 3)};
    for (int y = 0; y < size.height; ++y) {
        const uchar* line = rgba.constScanLine(y);
        std::uint8_t* target = &out.rgb[static_cast<std::size_t>(y) * size.width * 3];
        for (int x = 0; x < size.width; ++x) {
            const int alpha = line[x * 4 + 3];
            for (int c = 0; c < 3; ++c)
                target[x * 3 + c] =
                    static_cast<std::uint8_t>((line[x * 4 + c] * alpha + 255 * (255 - alpha) + 127) / 255);
        }
    }
    return out;
}

std::string pdfPageLabel(int index, int pageCount) {
    return "Page " + std::to_string(index + 1) + " of " + std::to_string(pageCount) + ":";
}

PdfPageSelection selectPdfPages(const PdfDocument& document, int budget, int tokenRoom, int firstPage,
                                int lastPage) {
    requireValidBudget(budget);
    const int count = document.pageCount();
    if (lastPage < 0) lastPage = count - 1;
    if (firstPage < 0 || firstPage >= count || lastPage < firstPage || lastPage >= count) {
        throw MediaError(document.path() + ": the pages asked for (" + std::to_string(firstPage + 1) +
                         " to " + std::to_string(lastPage + 1) + ") are not in the PDF, which has " +
                         std::to_string(count) + (count == 1 ? " page" : " pages"));
    }
    PdfPageSelection selection;
    selection.pageCount = count;
    int page = firstPage;
    for (; page <= lastPage; ++page) {
        const int tokens = document.pageSoftTokens(page, budget);
        if (selection.promptTokens + tokens + kPdfPageOverheadTokens > tokenRoom) break;
        selection.pages.push_back(page);
        selection.softTokens += tokens;
        selection.promptTokens += tokens + kPdfPageOverheadTokens;
    }
    const int perPage = document.pageSoftTokens(firstPage, budget) + kPdfPageOverheadTokens;
    if (selection.pages.empty()) {
        throw MediaError(document.path() + ": one page at a budget of " + std::to_string(budget) +
                         " soft tokens needs about " + std::to_string(perPage) + " tokens, but only " +
                         std::to_string(std::max(0, tokenRoom)) +
                         " are left in the context (use a longer context or a lower budget)");
    }
    if (page <= lastPage) {
        const int requested = lastPage - firstPage + 1;
        const int used = static_cast<int>(selection.pages.size());
        selection.message =
            document.path() + ": " + std::to_string(requested) +
            (requested == 1 ? " page was" : " pages were") + " asked for, but at a budget of " +
            std::to_string(budget) + " soft tokens a page takes about " + std::to_string(perPage) +
            " tokens and only " + std::to_string(used) + (used == 1 ? " page fits" : " pages fit") +
            " in the " + std::to_string(tokenRoom) + " tokens left in the context: using " +
            pageRange(firstPage, page - 1) + ", leaving out " + pageRange(page, lastPage) +
            ". Choose other pages, a longer context or a lower budget to read more.";
    }
    return selection;
}

std::vector<chat::Part> encodePdfPages(const vision::VisionEncoder& encoder, const PdfDocument& document,
                                       const PdfPageSelection& selection, int budget,
                                       const VideoProgress& progress) {
    std::vector<chat::Part> parts;
    const int total = static_cast<int>(selection.pages.size());
    int done = 0;
    for (const int page : selection.pages) {
        parts.push_back(chat::Part::makeText(pdfPageLabel(page, document.pageCount())));
        try {
            parts.push_back(imagePart(encodeImage(encoder, document.renderPage(page, budget), budget)));
        } catch (const vision::VisionError& e) {
            throw vision::VisionError(document.path() + " (page " + std::to_string(page + 1) +
                                      "): " + e.what());
        }
        ++done;
        if (progress && !progress(done, total))
            throw MediaError(document.path() + ": reading the pages cancelled");
    }
    return parts;
}

} // namespace ocelle::media
