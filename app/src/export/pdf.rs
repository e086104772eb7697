//! The readable copy as a PDF, made with the `printpdf` library in the PDF standard
//! Helvetica fonts (nothing to embed or download): A4 pages, text wrapped to the page
//! by the fonts' own widths, a new page whenever one fills. Characters the standard
//! fonts cannot show become `?` (printpdf's WinAnsi encoding); the FHIR and HTML copies
//! keep them.

use printpdf::{
    BuiltinFont, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point,
    Pt, TextItem,
};

use super::readable::{Block, Document};

const PAGE_WIDTH_MM: f32 = 210.0;
const PAGE_HEIGHT_MM: f32 = 297.0;
const MARGIN_MM: f32 = 20.0;
const PT_PER_MM: f32 = 72.0 / 25.4;

/// A font and its widths, for wrapping.
struct Face {
    font: BuiltinFont,
    metrics: Option<ParsedFont>,
}

impl Face {
    fn new(font: BuiltinFont) -> Self {
        let metrics = ParsedFont::from_bytes(&font.get_subset_font().bytes, 0, &mut Vec::new());
        Self { font, metrics }
    }

    /// Width in points of `text` at `size`; without metrics, a generous estimate.
    fn width(&self, size: f32, text: &str) -> f32 {
        match &self.metrics {
            Some(font) => {
                let units: u32 = text
                    .chars()
                    .map(|c| {
                        let glyph = font.lookup_glyph_index(c as u32).unwrap_or(0);
                        u32::from(font.get_glyph_width(glyph).unwrap_or(556))
                    })
                    .sum();
                units as f32 * size / f32::from(font.units_per_em)
            }
            None => text.chars().count() as f32 * size * 0.6,
        }
    }
}

/// Lays out lines on pages.
struct Layout {
    regular: Face,
    bold: Face,
    pages: Vec<Vec<Op>>,
    /// Distance from the top of the page, in mm.
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Self {
            regular: Face::new(BuiltinFont::Helvetica),
            bold: Face::new(BuiltinFont::HelveticaBold),
            pages: vec![Vec::new()],
            y: MARGIN_MM,
        }
    }

    fn space(&mut self, mm: f32) {
        self.y += mm;
    }

    /// Writes `text` wrapped to the width left after `indent` mm.
    fn text(&mut self, text: &str, size: f32, bold: bool, indent: f32) {
        let face = if bold { &self.bold } else { &self.regular };
        let width_pt = (PAGE_WIDTH_MM - 2.0 * MARGIN_MM - indent) * PT_PER_MM;
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        // A word wider than the line (a long reference or address) is cut to fit.
        let mut words: Vec<String> = Vec::new();
        for word in text.split_whitespace() {
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if face.width(size, &piece) > width_pt && piece.chars().count() > 1 {
                    piece.pop();
                    words.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            words.push(piece);
        }
        for word in words.iter().map(String::as_str) {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if face.width(size, &candidate) > width_pt && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line = word.to_owned();
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        let font = face.font;
        let line_height = size * 1.35 / PT_PER_MM;
        for line in lines {
            if self.y + line_height > PAGE_HEIGHT_MM - MARGIN_MM {
                self.pages.push(Vec::new());
                self.y = MARGIN_MM;
            }
            self.y += line_height;
            let ops = self.pages.last_mut();
            if let Some(ops) = ops {
                ops.extend([
                    Op::StartTextSection,
                    Op::SetFont {
                        font: PdfFontHandle::Builtin(font),
                        size: Pt(size),
                    },
                    Op::SetTextCursor {
                        pos: Point::new(Mm(MARGIN_MM + indent), Mm(PAGE_HEIGHT_MM - self.y)),
                    },
                    Op::ShowText {
                        items: vec![TextItem::Text(line)],
                    },
                    Op::EndTextSection,
                ]);
            }
        }
    }
}

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the PDF library reported: {0}")]
pub struct PdfError(String);

/// The PDF of a readable copy.
pub fn pdf(document: &Document) -> Result<Vec<u8>, PdfError> {
    let mut layout = Layout::new();
    layout.text(&document.title, 18.0, true, 0.0);
    layout.space(3.0);
    for block in &document.blocks {
        match block {
            Block::Heading(text) => {
                layout.space(4.0);
                layout.text(text, 15.0, true, 0.0);
                layout.space(1.5);
            }
            Block::Subheading(text) | Block::ItemHeading(text) => {
                layout.space(3.0);
                layout.text(text, 12.5, true, 0.0);
                layout.space(1.0);
            }
            Block::Minor(text) => {
                layout.space(1.5);
                layout.text(text, 11.0, true, 0.0);
            }
            Block::Paragraph(text) => {
                layout.text(text, 10.5, false, 0.0);
                layout.space(1.5);
            }
            Block::Bullets(lines) => {
                for line in lines {
                    layout.text(&format!("\u{2022} {line}"), 10.5, false, 4.0);
                }
                layout.space(1.5);
            }
            Block::Facts(facts) => {
                for (label, value) in facts {
                    layout.text(&format!("{label}: {value}"), 10.5, false, 0.0);
                }
                layout.space(1.5);
            }
        }
    }
    let pages = layout
        .pages
        .into_iter()
        .map(|ops| PdfPage::new(Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM), ops))
        .collect();
    let mut warnings = Vec::new();
    let bytes = PdfDocument::new(&document.title)
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut warnings);
    if bytes.is_empty() {
        return Err(PdfError(format!("{} warnings, no output", warnings.len())));
    }
    Ok(bytes)
}
