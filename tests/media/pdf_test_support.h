// Test PDFs written with Qt's own PDF writer (QPdfWriter, independent of the PDFium renderer that
// reads them): each page carries a big "PAGE n" and a filled rectangle of a known colour over its
// top-left quarter, so tests can check which page was rendered and where.
#pragma once

#include <QColor>
#include <QFont>
#include <QPageLayout>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QString>

#include <stdexcept>
#include <vector>

namespace ocelle::media::testing {

struct PdfTestPage {
    QColor colour = Qt::black;
    bool landscape = false;
};

// Needs a QGuiApplication (fonts). Page size A4 (595 x 842 points).
inline void writeTestPdf(const QString& path, const std::vector<PdfTestPage>& pages) {
    QPdfWriter writer(path);
    writer.setResolution(72); // drawing units = points
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setPageMargins(QMarginsF(0, 0, 0, 0));
    writer.setPageOrientation(pages.empty() || !pages[0].landscape ? QPageLayout::Portrait
                                                                   : QPageLayout::Landscape);
    QPainter painter;
    if (!painter.begin(&writer)) throw std::runtime_error("cannot write " + path.toStdString());
    for (std::size_t i = 0; i < pages.size(); ++i) {
        if (i > 0) {
            writer.setPageOrientation(pages[i].landscape ? QPageLayout::Landscape : QPageLayout::Portrait);
            writer.newPage();
        }
        const QRect page(0, 0, writer.width(), writer.height()); // this page's size, in points
        painter.fillRect(QRect(0, 0, page.width() / 2, page.height() / 2), pages[i].colour);
        QFont font(QStringLiteral("DejaVu Sans"));
        font.setPixelSize(48);
        painter.setFont(font);
        painter.setPen(Qt::black);
        painter.drawText(QRect(0, page.height() / 2, page.width(), page.height() / 2), Qt::AlignCenter,
                         QStringLiteral("PAGE %1").arg(i + 1));
    }
    painter.end();
}

} // namespace ocelle::media::testing
