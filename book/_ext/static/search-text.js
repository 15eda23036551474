// Search results show a snippet of each page's text (Sphinx's Search.htmlToText). Without this,
// that text holds the inputs of code cells and the TeX source of every formula, so snippets read
// "import ..." and "\mathcal{L}_q = ...". Drop code inputs, Python listings (the library's code a
// chapter shows), displayed formulas and the labels of show/hide buttons, write an inline formula as "…", and then let Sphinx take the text as before.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".cell_input, div[class*='highlight-python'], div[class*='highlight-ipython'], div.math, "
                          + "summary, .toggle-details").forEach((e) => e.remove());
    page.querySelectorAll("span.math, mjx-container").forEach((e) => e.replaceWith("…"));
    return htmlToText(page.documentElement.outerHTML, anchor);
  };
});
