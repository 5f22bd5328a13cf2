//! Charts drawn on the server as SVG: no script, nothing loaded, the same in every browser. Each
//! chart is an image with a title and a text alternative (`role="img"`, `aria-labelledby`); the
//! page shows its numbers in a table beside it. Written by hand: a chart crate would bring a
//! renderer and fonts for what is a few rectangles and lines; in a right-to-left page the time axis
//! runs from the right, as the page reads. Positions are physical (the SVG's own direction is
//! left to right, so `text-anchor` means the same in both); Arabic labels still read right to
//! left inside it.

use std::fmt::Write;

/// One series of a chart: its values (one per column), its colour, and which way it grows.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<i64>,
    pub colour: &'a str,
    /// Drawn below the axis (what was lost: unsubscribes).
    pub down: bool,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const W: f64 = 720.0;
const H: f64 = 240.0;
const PAD_X: f64 = 8.0;
const PAD_Y: f64 = 16.0;

/// Bars per column, side by side for the series that grow up and below the axis for those that
/// go down, with `labels` under the first, middle and last columns. `id` names the chart's title
/// and text alternative for `aria-labelledby`.
pub fn bars(
    id: &str,
    title: &str,
    summary: &str,
    labels: &[String],
    series: &[Series<'_>],
    rtl: bool,
) -> String {
    let n = labels.len().max(1);
    let top = series
        .iter()
        .filter(|s| !s.down)
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bottom = series
        .iter()
        .filter(|s| s.down)
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0) as f64;
    let plot_h = H - 2.0 * PAD_Y - 14.0;
    let scale = plot_h / (top + bottom).max(1.0);
    let axis = PAD_Y + top * scale;
    let col = (W - 2.0 * PAD_X) / n as f64;
    let ups: Vec<&Series<'_>> = series.iter().filter(|s| !s.down).collect();
    let bar_w = (col * 0.8 / ups.len().max(1) as f64).max(1.0);
    let x_of = |i: usize| {
        let i = if rtl { n - 1 - i } else { i };
        PAD_X + i as f64 * col + col * 0.1
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         xmlns=\"http://www.w3.org/2000/svg\" preserveAspectRatio=\"none\" direction=\"ltr\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        esc(title),
        esc(summary)
    );
    let _ = write!(
        svg,
        "<line x1=\"{PAD_X}\" x2=\"{}\" y1=\"{axis:.1}\" y2=\"{axis:.1}\" stroke=\"#6b7280\" stroke-width=\"1\"/>",
        W - PAD_X
    );
    for (k, s) in ups.iter().enumerate() {
        for (i, v) in s.values.iter().enumerate() {
            if *v <= 0 {
                continue;
            }
            let h = *v as f64 * scale;
            let x = x_of(i) + k as f64 * bar_w;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {v}</title></rect>",
                axis - h,
                s.colour,
                esc(&format!(
                    "{} {}",
                    labels.get(i).map(String::as_str).unwrap_or(""),
                    s.name
                ))
            );
        }
    }
    for s in series.iter().filter(|s| s.down) {
        for (i, v) in s.values.iter().enumerate() {
            if *v <= 0 {
                continue;
            }
            let h = *v as f64 * scale;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{axis:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {v}</title></rect>",
                x_of(i),
                col * 0.8,
                s.colour,
                esc(&format!(
                    "{} {}",
                    labels.get(i).map(String::as_str).unwrap_or(""),
                    s.name
                ))
            );
        }
    }
    // The first, middle and last dates under the axis.
    let mut shown: Vec<usize> = vec![0, n / 2, n - 1];
    shown.dedup();
    for i in shown {
        let Some(l) = labels.get(i) else { continue };
        // Edge labels keep inside the chart: the first and last columns' outer edges.
        let (left_edge, right_edge) = if rtl {
            (i == n - 1, i == 0)
        } else {
            (i == 0, i == n - 1)
        };
        let (x, anchor) = if n == 1 || !(left_edge || right_edge) {
            (x_of(i) + col * 0.4, "middle")
        } else if left_edge {
            (x_of(i), "start")
        } else {
            (x_of(i) + col * 0.8, "end")
        };
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"{anchor}\" fill=\"#3d4350\">{}</text>",
            H - 4.0,
            esc(l)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(rtl: bool) -> String {
        bars(
            "c",
            "Readers <by day>",
            "12 joined, 3 left",
            &["1 Dec".into(), "2 Dec".into(), "3 Dec".into()],
            &[
                Series {
                    name: "joined",
                    values: vec![2, 0, 10],
                    colour: "#0b4f8a",
                    down: false,
                },
                Series {
                    name: "left",
                    values: vec![0, 3, 0],
                    colour: "#8a1010",
                    down: true,
                },
            ],
            rtl,
        )
    }

    #[test]
    fn a_chart_is_an_image_with_its_text_and_one_bar_per_value() {
        let svg = chart(false);
        assert!(svg.starts_with("<svg class=\"chart\""));
        assert!(svg.contains("role=\"img\" aria-labelledby=\"c-t c-d\""));
        assert!(
            svg.contains("<title id=\"c-t\">Readers &lt;by day&gt;</title>"),
            "escaped"
        );
        assert!(svg.contains("<desc id=\"c-d\">12 joined, 3 left</desc>"));
        assert_eq!(svg.matches("<rect").count(), 3, "zeros draw nothing: {svg}");
        assert!(svg.contains("<title>3 Dec joined: 10</title>"));
        assert!(svg.contains("<title>2 Dec left: 3</title>"));
        // The tallest bar fills the plot above the axis; the loss goes below it.
        let x_of = |svg: &str, t: &str| -> f64 {
            let at = svg.find(t).unwrap();
            let rect = svg[..at].rfind("<rect x=\"").unwrap() + 9;
            svg[rect..].split('"').next().unwrap().parse().unwrap()
        };
        assert!(x_of(&svg, "1 Dec joined") < x_of(&svg, "3 Dec joined"));
        let rtl = chart(true);
        assert!(
            x_of(&rtl, "1 Dec joined") > x_of(&rtl, "3 Dec joined"),
            "time runs from the right"
        );
    }
}
