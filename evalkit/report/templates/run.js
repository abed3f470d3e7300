  // The run page: a sortable, filterable results table and a sample table with search,
  // filters, sorting and pagination over the JSON block (only one page of rows is in the DOM).

  var resultsTable = document.getElementById("results-table");
  if (resultsTable) {
    var resultsBody = resultsTable.tBodies[0];
    var resultRows = Array.prototype.slice.call(resultsBody.rows);
    var resultsFilter = document.getElementById("results-filter");
    var resultsCount = document.getElementById("results-count");
    var filterResults = function () {
      var q = resultsFilter.value.toLowerCase();
      var shown = 0;
      resultRows.forEach(function (row) {
        var hit = !q || row.getAttribute("data-search").toLowerCase().indexOf(q) !== -1;
        row.hidden = !hit;
        shown += hit ? 1 : 0;
      });
      resultsCount.textContent = shown === resultRows.length ? "" :
        shown + " of " + resultRows.length + " rows";
    };
    bindSortHeaders(resultsTable, function (col, numeric, sign) {
      resultRows = sortRows(resultsBody, resultRows, col, numeric, sign);
    });
    resultsFilter.addEventListener("input", filterResults);
  }

  var dataNode = document.getElementById("evalkit-samples");
  var samplesTable = document.getElementById("samples-table");
  if (!dataNode || !samplesTable) { return; }
  var tbody = samplesTable.tBodies[0];
  var data = JSON.parse(dataNode.textContent);
  var samples = data.samples;
  var statColumns = data.stat_columns;
  var hasRanking = data.has_ranking;
  var haystack = samples.map(function (s) {
    return [s.id, s.task, s.prompt, s.prediction, s.references.join("\n"), s.error]
      .filter(function (v) { return v !== null && v !== undefined; }).join("\n").toLowerCase();
  });
  var state = { query: "", task: "", failedOnly: false };
  var order = samples.map(function (_, i) { return i; });
  var matches = order;

  var search = document.getElementById("sample-search");
  var taskSelect = document.getElementById("sample-task");
  var failedBox = document.getElementById("sample-errors");

  function textCell(row, value, placeholder) {
    var td = el("td", "text");
    var div = el("div", "cell");
    if (value === null || value === undefined) { div.appendChild(el("span", "placeholder", placeholder)); }
    else if (value === "") { div.appendChild(el("span", "placeholder", "(empty string)")); }
    else { div.textContent = value; }
    td.appendChild(div);
    row.appendChild(td);
  }

  function rankingCell(row, ranking) {
    var td = el("td", "text");
    var div = el("div", "cell");
    if (!ranking || ranking.length === 0) { div.appendChild(el("span", "placeholder", "(none)")); }
    else {
      var list = el("ol", "ranking");
      ranking.forEach(function (hit) {
        var item = el("li");
        item.appendChild(el("span", "mono", hit[0]));
        item.appendChild(el("span", "muted", " " + hit[1]));
        list.appendChild(item);
      });
      div.appendChild(list);
    }
    td.appendChild(div);
    row.appendChild(td);
  }

  function sampleRow(s) {
    var tr = el("tr", s.error !== null ? "is-error" : "");
    var idCell = el("td", "mono", s.id);
    if (s.cached) { idCell.title = "answer served from the response cache"; }
    tr.appendChild(idCell);
    tr.appendChild(el("td", "", s.task));
    textCell(tr, s.prompt, "(no prompt)");
    if (s.error !== null) {
      var td = el("td", "text");
      var div = el("div", "cell");
      div.appendChild(el("span", "badge", "ERROR"));
      div.appendChild(el("span", "placeholder",
        s.prediction === null ? "no prediction: the model call failed" : s.prediction));
      td.appendChild(div);
      tr.appendChild(td);
    } else {
      textCell(tr, s.prediction, "(no prediction)");
    }
    if (hasRanking) { rankingCell(tr, s.ranking); }
    var refs = el("td", "text");
    var box = el("div", "cell");
    if (s.references.length === 0) { box.appendChild(el("span", "placeholder", "(none)")); }
    else if (s.references.length === 1) { box.textContent = s.references[0]; }
    else {
      var list = el("ol");
      s.references.forEach(function (r) { list.appendChild(el("li", "", r)); });
      box.appendChild(list);
    }
    refs.appendChild(box);
    tr.appendChild(refs);
    var errCell = el("td", "text" + (s.error !== null ? " errors" : ""));
    var errDiv = el("div", "cell");
    if (s.error !== null) { errDiv.textContent = s.error; }
    errCell.appendChild(errDiv);
    tr.appendChild(errCell);
    statColumns.forEach(function (c) {
      var v = Object.prototype.hasOwnProperty.call(s.stats, c) ? s.stats[c] : "";
      tr.appendChild(el("td", "num", v));
    });
    return tr;
  }

  var nColumns = samplesTable.tHead.rows[0].cells.length;
  var pager = makePager("page-", data.page_size, function (start, end) {
    var fragment = document.createDocumentFragment();
    for (var i = start; i < end; i++) { fragment.appendChild(sampleRow(samples[matches[i]])); }
    if (matches.length === 0) {
      var empty = el("tr");
      var td = el("td", "placeholder", "No sample matches.");
      td.colSpan = nColumns;
      empty.appendChild(td);
      fragment.appendChild(empty);
    }
    clear(tbody);
    tbody.appendChild(fragment);
  });

  function refilter() {
    var q = state.query.toLowerCase();
    matches = [];
    for (var k = 0; k < order.length; k++) {
      var i = order[k];
      var s = samples[i];
      if (state.task && s.task !== state.task) { continue; }
      if (state.failedOnly && s.error === null) { continue; }
      if (q && haystack[i].indexOf(q) === -1) { continue; }
      matches.push(i);
    }
    pager.update(matches.length, samples.length, true);
  }

  // Sorting the samples: id and task as text (numbers inside ids compare as numbers), score
  // columns by value with absent scores last.
  var collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });
  bindSortHeaders(samplesTable, function (col, numeric, sign, th) {
    var field = th.getAttribute("data-field");
    var stat = th.hasAttribute("data-stat") ? +th.getAttribute("data-stat") : -1;
    order = samples.map(function (_, i) { return i; });
    order.sort(function (a, b) {
      var c = 0;
      if (stat >= 0) {
        var va = samples[a].v[stat], vb = samples[b].v[stat];
        c = compareKeys(va === null ? NaN : va, vb === null ? NaN : vb, true, sign);
      } else {
        c = sign * collator.compare(String(samples[a][field]), String(samples[b][field]));
      }
      return c || a - b;
    });
    refilter();
  });

  search.addEventListener("input", debounce(function () { state.query = search.value; refilter(); }, 150));
  taskSelect.addEventListener("change", function () { state.task = taskSelect.value; refilter(); });
  failedBox.addEventListener("change", function () { state.failedOnly = failedBox.checked; refilter(); });
  bindPageSize(document.getElementById("sample-page-size"), data.page_size, pager);
  Array.prototype.forEach.call(document.querySelectorAll("button.show-task"), function (b) {
    b.addEventListener("click", function () {
      taskSelect.value = b.getAttribute("data-task");
      state.task = taskSelect.value;
      refilter();
      document.getElementById("samples").scrollIntoView();
    });
  });
  refilter();
