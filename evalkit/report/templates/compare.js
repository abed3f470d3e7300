  // The comparison page: this script only reorders and hides rows the page already has.
  var table = document.getElementById("comparisons");
  var dataNode = document.getElementById("evalkit-compare");
  if (!table || !dataNode) { return; }
  var data = JSON.parse(dataNode.textContent);
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var state = { query: "", significantOnly: false };
  var matches = rows;

  var pager = makePager("page-", data.page_size, function (start, end) {
    rows.forEach(function (row) { row.hidden = true; });
    for (var i = start; i < end; i++) { matches[i].hidden = false; }
  });

  function refilter(resetPage) {
    var q = state.query.toLowerCase();
    matches = rows.filter(function (row) {
      var info = data.rows[+row.getAttribute("data-index")];
      if (state.significantOnly && !info.significant) { return false; }
      return !q || info.search.toLowerCase().indexOf(q) !== -1;
    });
    pager.update(matches.length, rows.length, resetPage);
  }

  bindSortHeaders(table, function (col, numeric, sign) {
    rows = sortRows(body, rows, col, numeric, sign);
    refilter(false);
  });
  var search = document.getElementById("row-search");
  var sigBox = document.getElementById("row-significant");
  search.addEventListener("input", debounce(function () { state.query = search.value; refilter(true); }, 150));
  sigBox.addEventListener("change", function () { state.significantOnly = sigBox.checked; refilter(true); });
  bindPageSize(document.getElementById("row-page-size"), data.page_size, pager);
  refilter(true);
