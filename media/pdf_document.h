// PDF documents for Gemma 4 (issue 6, item 5): pages rendered with QtPdf (PDFium) to RGB images
// sized for a soft-token budget (1120 for documents, where small text matters), one image per page
// with its page number written before it in the prompt. How many pages fit in the context is
// decided by selectPdfPages, which says so in words when pages are left out (never silently).
// Library `ocelle_document` (Qt 6 Pdf/Gui behind a plain C++ interface) for the app and ocelle-cli.
//
//     media::PdfDocument doc("letter.pdf");                     // throws MediaError
//     auto pick = media::selectPdfPages(doc, 1120, tokensLeft);   // pick.message: tell the user
//     auto parts = media::encodePdfPages(*vision, doc, pick, 1120);
#pragma once

#include "chat/chat_format.h"
#include "media/image.h"
#include "media/image_preprocess.h"
#include "media/video.h" // VideoProgress, reused for page progress
#include "vision/vision_encoder.h"

#include <memory>
#include <string>
#include <vector>

namespace ocelle::media {

// Prompt tokens one page costs besides its soft tokens: the "Page N of M:" label, the blank lines
// around the image and its begin/end markers (an upper bound).
inline constexpr int kPdfPageOverheadTokens = 16;

class PdfDocument {
public:
    // Opens and parses the file. Throws MediaError naming the file: missing, not a PDF or damaged,
    // password-protected, no pages.
    explicit PdfDocument(const std::string& path);
    ~PdfDocument();
    PdfDocument(const PdfDocument&) = delete;
    PdfDocument& operator=(const PdfDocument&) = delete;

    const std::string& path() const { return path_; }
    int pageCount() const;
    // Page size in points (1/72 inch), as the page is displayed.
    double pageWidthPoints(int index) const;
    double pageHeightPoints(int index) const;

    // The pixel size renderPage uses for `budget`: the page's aspect ratio at the pixel area of
    // `budget` soft tokens (budget x 48 x 48), so the image preprocessing then only trims each side
    // to a multiple of 48 instead of rescaling a much larger or smaller raster.
    ImageSize renderSize(int index, int budget = kDocumentImageBudget) const;
    // Soft tokens the page takes at `budget` (Hugging Face's sizing rule on renderSize).
    int pageSoftTokens(int index, int budget = kDocumentImageBudget) const;

    // Page `index` (0-based) rendered on white at renderSize(index, budget) or at `size`.
    // Throws MediaError for an index outside the document or a page PDFium cannot render.
    RgbImage renderPage(int index, int budget = kDocumentImageBudget) const;
    RgbImage renderPage(int index, ImageSize size) const;

private:
    struct Impl;
    std::string path_;
    std::unique_ptr<Impl> impl_;
};

struct PdfPageSelection {
    std::vector<int> pages; // 0-based, ascending, consecutive from the first requested page
    int pageCount = 0;      // pages in the document
    int softTokens = 0;     // over the selected pages
    int promptTokens = 0;   // softTokens plus kPdfPageOverheadTokens per page
    // Empty when every requested page fits; otherwise a sentence for the user saying how many pages
    // fit in the context and which are used.
    std::string message;
};

// The pages from firstPage to lastPage (0-based, inclusive; -1: the last page) that fit in
// `tokenRoom` prompt tokens at `budget`, in order. Throws MediaError for a page range outside the
// document, or when not even the first page fits (the message says how many tokens one page needs).
PdfPageSelection selectPdfPages(const PdfDocument& document, int budget, int tokenRoom, int firstPage = 0,
                                int lastPage = -1);

// The selected pages as chat parts: for each page the text "Page N of M:" and the page's image
// encoded at `budget`. `progress(done, total)` after each page; false cancels (MediaError).
std::vector<chat::Part> encodePdfPages(const vision::VisionEncoder& encoder, const PdfDocument& document,
                                       const PdfPageSelection& selection, int budget = kDocumentImageBudget,
                                       const VideoProgress& progress = {});

// "Page 3 of 12:" (pages counted from 1).
std::string pdfPageLabel(int index, int pageCount);

} // namespace ocelle::media
