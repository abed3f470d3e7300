  // Shared by the run and comparison pages. Every piece of record data is inserted with
  // textContent (or as a DOM property); never as markup.

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // Orders two sort keys; absent numbers (NaN) always come last, whatever the direction.
  function compareKeys(ka, kb, numeric, sign) {
    if (numeric) {
      var na = isNaN(ka), nb = isNaN(kb);
      if (na || nb) { return na === nb ? 0 : (na ? 1 : -1); }
      return sign * (ka - kb);
    }
    return sign * (ka < kb ? -1 : ka > kb ? 1 : 0);
  }

  // Makes the header buttons of a table sort it: onSort(col, numeric, sign) reorders the data;
  // the header shows the direction with aria-sort (the next click on it reverses it).
  function bindSortHeaders(table, onSort) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        for (var h = 0; h < heads.length; h++) { heads[h].removeAttribute("aria-sort"); }
        th.setAttribute("aria-sort", dir);
        onSort(col, th.getAttribute("data-type") === "num", dir === "ascending" ? 1 : -1, th);
      });
    });
  }

  // Sorts server-rendered rows by a column (its data-sort attribute, else its text), ties in
  // document order (data-index); returns the sorted array and moves the rows in the DOM.
  function sortRows(body, rows, col, numeric, sign) {
    function key(row) {
      var cell = row.cells[col];
      var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
      if (!numeric) { return raw.toLowerCase(); }
      return raw === "" ? NaN : parseFloat(raw);
    }
    var keyed = rows.map(function (row) { return { row: row, key: key(row) }; });
    keyed.sort(function (a, b) {
      return compareKeys(a.key, b.key, numeric, sign) ||
        (+a.row.getAttribute("data-index") - +b.row.getAttribute("data-index"));
    });
    var sorted = keyed.map(function (k) { return k.row; });
    sorted.forEach(function (row) { body.appendChild(row); });
    return sorted;
  }

  // Pagination controls: four buttons and a status line; render(start, end) shows a page.
  function makePager(prefix, pageSize, render) {
    var state = { page: 0, size: pageSize, total: 0, of: 0 };
    function byId(name) { return document.getElementById(prefix + name); }
    var status = byId("status");
    var first = byId("first"), prev = byId("prev"), next = byId("next"), last = byId("last");
    function show() {
      var pages = Math.max(1, Math.ceil(state.total / state.size));
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      var start = state.page * state.size;
      var end = Math.min(start + state.size, state.total);
      render(start, end);
      var shown = state.total === 0 ? "0" : (start + 1) + "–" + end;
      var text = "Showing " + shown + " of " + state.total.toLocaleString("en-US");
      if (state.total !== state.of) { text += " (filtered from " + state.of.toLocaleString("en-US") + ")"; }
      status.textContent = text + " · page " + (state.page + 1) + " of " + pages;
      first.disabled = prev.disabled = state.page === 0;
      next.disabled = last.disabled = state.page >= pages - 1;
    }
    first.addEventListener("click", function () { state.page = 0; show(); });
    prev.addEventListener("click", function () { state.page -= 1; show(); });
    next.addEventListener("click", function () { state.page += 1; show(); });
    last.addEventListener("click", function () { state.page = Infinity; show(); });
    return {
      update: function (total, of, resetPage) {
        state.total = total;
        state.of = of;
        if (resetPage) { state.page = 0; }
        show();
      },
      setSize: function (size) { state.size = size; state.page = 0; show(); }
    };
  }

  function bindPageSize(select, fallback, pager) {
    if (!select) { return; }
    select.addEventListener("change", function () {
      pager.setSize(parseInt(select.value, 10) || fallback);
    });
  }
