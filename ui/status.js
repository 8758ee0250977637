// edgehook status page: reads the JSON API every 2 s and renders it with
// DOM calls only (textContent, never HTML from the server), so event data
// cannot inject markup. No framework, nothing fetched from elsewhere.
'use strict';
(function () {
  var REFRESH_MS = 2000;
  var TOKEN_KEY = 'edgehook.api_token';
  var SVG = 'http://www.w3.org/2000/svg';
  var token = sessionStorage.getItem(TOKEN_KEY) || '';
  var last = {};       // table id -> JSON of what it shows now
  var timer = null, busy = false, again = false;

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function ApiError(status, msg) { this.status = status; this.message = msg; }

  function api(method, path, body) {
    var headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch('/api/v1/' + path, {
      method: method, headers: headers, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? (method === 'POST' ? '' : undefined) : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (r.status === 401) askToken();
        if (!r.ok) throw new ApiError(r.status, (data && data.error) || r.statusText);
        return data;
      });
    });
  }

  function askToken() {
    var f = $('token-form');
    if (f.hidden) {
      f.hidden = false;
      $('token').focus();
    }
  }

  function say(text, bad) {
    var m = $('message');
    m.textContent = text;
    m.className = bad ? 'bad' : '';
  }

  function time(iso) {
    if (!iso) return el('span', 'none', '—');
    var t = el('time', null, new Date(iso).toLocaleTimeString());
    t.dateTime = iso;
    t.title = iso;
    return t;
  }

  function word(text, kind) { return el('span', 'word ' + kind, text); }

  var HEALTH = { healthy: 'ok', failing: 'bad', disabled: 'bad', unknown: 'idle' };
  var STATE = { delivered: 'ok', completed: 'ok', failed: 'bad', dropped: 'bad', retrying: 'warn',
    in_flight: 'idle', pending: 'idle', queued: 'idle', running: 'idle' };

  function answer(status, error) {
    var parts = [];
    if (status) parts.push(String(status));
    if (error) parts.push(error);
    return parts.length ? parts.join(' — ') : '—';
  }

  function bytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
    return (n / 1073741824).toFixed(1) + ' GiB';
  }

  function duration(ms) {
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
  }

  // A row: cells are [header label, content] pairs; the label is shown
  // beside the value when the table is stacked on a narrow screen.
  function row(cells) {
    var tr = el('tr');
    cells.forEach(function (c, i) {
      var td = el(i === 0 ? 'th' : 'td');
      if (i === 0) td.scope = 'row';
      td.setAttribute('data-label', c[0]);
      if (c[1] instanceof Node) td.appendChild(c[1]);
      else td.textContent = c[1] === null || c[1] === undefined ? '—' : String(c[1]);
      tr.appendChild(td);
    });
    return tr;
  }

  // Replaces a table's rows only when its data changed, so focus and a
  // click in progress survive the refreshes that change nothing.
  function fill(id, data, rows, empty, ncols) {
    var sig = JSON.stringify(data);
    if (last[id] === sig) return;
    last[id] = sig;
    var tbody = $(id).tBodies[0];
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    var list = rows();
    if (!list.length) {
      var tr = el('tr'), td = el('td', 'none', empty);
      td.colSpan = ncols;
      tr.appendChild(td);
      list = [tr];
    }
    list.forEach(function (r) { tbody.appendChild(r); });
  }

  function sparkline(s) {
    var w = 100, h = 28, n = s ? s.delivered.length : 0;
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('width', w);
    svg.setAttribute('height', h);
    svg.setAttribute('role', 'img');
    if (!n) {
      svg.setAttribute('aria-label', 'no data yet');
      return svg;
    }
    var fails = s.failed.map(function (v, i) { return v + s.retried[i]; });
    var sumD = s.delivered.reduce(function (a, b) { return a + b; }, 0);
    var sumF = fails.reduce(function (a, b) { return a + b; }, 0);
    var max = Math.max(1, Math.max.apply(null, s.delivered), Math.max.apply(null, fails));
    var label = 'last 10 minutes: ' + sumD + ' delivered, ' + sumF + ' failed attempts';
    svg.setAttribute('aria-label', label);
    var title = document.createElementNS(SVG, 'title');
    title.textContent = label;
    svg.appendChild(title);
    [[s.delivered, 'line-ok'], [fails, 'line-bad']].forEach(function (p) {
      var pts = p[0].map(function (v, i) {
        return (i * (w - 2) / (n - 1) + 1).toFixed(1) + ',' + (h - 2 - v * (h - 4) / max).toFixed(1);
      });
      var line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', pts.join(' '));
      line.setAttribute('class', p[1]);
      line.setAttribute('fill', 'none');
      svg.appendChild(line);
    });
    return svg;
  }

  function button(text, label, onclick) {
    var b = el('button', null, text);
    b.type = 'button';
    b.setAttribute('aria-label', label);
    b.addEventListener('click', function () {
      b.disabled = true;
      onclick().then(function () { b.disabled = false; }, function () { b.disabled = false; });
    });
    return b;
  }

  function act(promise, done) {
    return promise.then(function (r) {
      say(done(r), false);
      refresh();
    }, function (e) {
      say('Failed: ' + e.message + ' (' + e.status + ')', true);
    });
  }

  function replay(id, endpoint) {
    return act(api('POST', 'events/' + encodeURIComponent(id) + '/replay?endpoint=' + encodeURIComponent(endpoint)),
      function (r) { return 'Replay of ' + id + ' to ' + endpoint + ' started (' + r.endpoints + ' delivery).'; });
  }

  function enable(name) {
    return act(api('POST', 'endpoints/' + encodeURIComponent(name) + '/enable'),
      function () { return 'Endpoint ' + name + ' enabled.'; });
  }

  function renderQueue(eps, spool) {
    var q = eps.queue;
    var inflight = eps.endpoints.reduce(function (a, e) { return a + e.in_flight; }, 0);
    fill('queue', [q, spool, inflight], function () {
      var rows = [
        row([['What', 'Deliveries pending'], ['Value', q.pending + ' of ' + q.max]]),
        row([['What', 'Bytes queued'], ['Value', bytes(q.bytes) + ' of ' + bytes(q.max_bytes)]]),
        row([['What', 'Requests in flight'], ['Value', inflight]])
      ];
      if (!spool.enabled) {
        rows.push(row([['What', 'Spool'], ['Value', 'off (memory only)']]));
      } else {
        rows.push(row([['What', 'Spool size'], ['Value', bytes(spool.bytes) + ' of ' + bytes(spool.max_bytes) +
          ' in ' + spool.segments + ' segment' + (spool.segments === 1 ? '' : 's')]]));
        rows.push(row([['What', 'Spool records'], ['Value', spool.appended + ' appended, ' + spool.full +
          ' refused (full), ' + spool.write_errors + ' write errors']]));
      }
      return rows;
    }, '', 2);
  }

  function renderEndpoints(eps, series) {
    var byName = {};
    series.endpoints.forEach(function (s) { byName[s.name] = s; });
    fill('endpoints', [eps.endpoints.map(function (e) {
      var c = Object.assign({}, e);
      delete c.attempts;
      return c;
    }), series], function () {
      return eps.endpoints.map(function (e) {
        var name = el('span');
        name.appendChild(el('strong', null, e.name));
        name.appendChild(el('br'));
        name.appendChild(el('small', 'url', e.url));
        var action = e.disabled ? button('Enable', 'Enable endpoint ' + e.name, function () { return enable(e.name); })
          : button('Recover…', 'Recover endpoint ' + e.name + ' since a time', function () {
            $('recover-endpoint').value = e.name;
            $('recover-since').focus();
            return Promise.resolve();
          });
        var health = el('span');
        health.appendChild(word(e.health, HEALTH[e.health] || 'idle'));
        if (e.failing_since) {
          health.appendChild(el('br'));
          health.appendChild(el('small', null, 'since '));
          health.appendChild(time(e.failing_since));
        }
        return row([['Endpoint', name], ['Health', health],
          ['Breaker', word(e.breaker.replace('_', ' '), e.breaker === 'closed' ? 'ok' : 'bad')],
          ['In flight', e.in_flight], ['Delivered', e.delivered], ['Failed', e.failed],
          ['Last answer', answer(e.last_status, e.last_error)], ['Last 10 min', sparkline(byName[e.name])],
          ['Action', action]]);
      });
    }, 'No endpoints configured.', 9);
    var sel = $('recover-endpoint');
    var names = eps.endpoints.map(function (e) { return e.name; });
    if (sel.dataset.names !== names.join('\n')) {
      var keep = sel.value;
      sel.dataset.names = names.join('\n');
      while (sel.firstChild) sel.removeChild(sel.firstChild);
      names.forEach(function (n) { sel.appendChild(el('option', null, n)); });
      if (names.indexOf(keep) >= 0) sel.value = keep;
    }
  }

  function renderDead(dead) {
    fill('dead', dead.dead, function () {
      return dead.dead.slice().reverse().map(function (d) {
        var rep = d.replayed ? word(d.replayed.replace('_', ' '), STATE[d.replayed] || 'idle') : el('span', 'none', 'no');
        return row([['Event', el('code', null, d.id)], ['Type', d.event], ['Endpoint', d.endpoint],
          ['Attempts', d.attempts], ['Last answer', answer(d.last_status, d.last_error)], ['Failed at', time(d.completed)],
          ['Replayed', rep],
          ['Action', button('Replay', 'Replay ' + d.id + ' to ' + d.endpoint, function () { return replay(d.id, d.endpoint); })]]);
      });
    }, 'No dead letters.', 8);
  }

  function renderEvents(events) {
    fill('events', events.events, function () {
      return events.events.map(function (ev) {
        var ul = el('ul', 'deliveries');
        ev.deliveries.forEach(function (d) {
          var li = el('li');
          li.appendChild(el('span', null, d.endpoint + ': '));
          li.appendChild(word(d.state.replace('_', ' '), STATE[d.state] || 'idle'));
          li.appendChild(el('span', null, ', ' + d.attempts + ' attempt' + (d.attempts === 1 ? '' : 's') +
            (d.last_status || d.last_error ? ', ' + answer(d.last_status, d.last_error) : '')));
          ul.appendChild(li);
        });
        if (!ev.deliveries.length) ul.appendChild(el('li', 'none', 'no endpoint matched'));
        return row([['Event', el('code', null, ev.id)], ['Type', ev.event], ['Created', time(ev.created)],
          ['Deliveries', ul]]);
      });
    }, 'No events yet.', 4);
  }

  function renderTriggers(triggers, received) {
    fill('triggers', [triggers, received.received], function () {
      return triggers.triggers.map(function (t) {
        var does = [t.emit ? 'emits events' : '', t.run ? 'runs a command' : ''].filter(Boolean).join(', ');
        var ul = el('ul', 'deliveries');
        received.received.filter(function (r) { return r.trigger === t.id; }).slice(0, 3).forEach(function (r) {
          var li = el('li');
          li.appendChild(time(r.received));
          var what = ' ' + r.event + ' ' + (r.delivery || r.id);
          if (r.event_id) what += ' → ' + r.event_id;
          if (r.run_id) what += ' → ' + r.run_id;
          li.appendChild(el('span', null, what));
          ul.appendChild(li);
        });
        if (!ul.firstChild) ul.appendChild(el('li', 'none', 'none yet'));
        return row([['Trigger', el('code', null, t.id)], ['Kind', t.kind],
          ['State', word(t.enabled ? 'enabled' : 'disabled', t.enabled ? 'ok' : 'idle')], ['Does', does || '—'],
          ['Last deliveries', ul]]);
      });
    }, 'No triggers.', 5);
  }

  function tail(text) {
    var lines = (text || '').replace(/\s+$/, '').split('\n');
    var t = lines.slice(-8).join('\n');
    return t.length > 1200 ? t.slice(-1200) : t;
  }

  function renderRuns(runs) {
    fill('runs', runs.runs, function () {
      return runs.runs.map(function (r) {
        var out = tail(r.output);
        var code = r.exit_code === null ? (r.signal ? 'signal ' + r.signal : '—') : r.exit_code;
        var state = r.timed_out ? r.state + ' (timed out)' : r.state;
        return row([['Run', el('code', null, r.id)], ['Trigger', r.trigger],
          ['State', word(state, STATE[r.state] || 'idle')], ['Exit code', code],
          ['Duration', r.finished_at ? duration(r.duration_ms) : '—'], ['Finished', time(r.finished_at)],
          ['Output (tail)', out ? el('pre', null, out) : el('span', 'none', r.error || 'no output')]]);
      });
    }, 'No runs yet.', 7);
  }

  // One refresh at a time: a call while one runs (a click) asks for
  // another right after it, so the 2 s loop never doubles.
  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    clearTimeout(timer);
    Promise.all([api('GET', 'endpoints'), api('GET', 'stats/series'), api('GET', 'dead?limit=200'),
      api('GET', 'events?limit=20'), api('GET', 'triggers'), api('GET', 'received?limit=200'),
      api('GET', 'runs?limit=20'), api('GET', 'spool')]).then(function (r) {
      renderQueue(r[0], r[7]);
      renderEndpoints(r[0], r[1]);
      renderDead(r[2]);
      renderEvents(r[3]);
      renderTriggers(r[4], r[5]);
      renderRuns(r[6]);
      var failing = r[0].endpoints.filter(function (e) { return e.health === 'failing' || e.health === 'disabled'; });
      var st = $('state');
      st.textContent = 'Updated ' + new Date().toLocaleTimeString() + ': ' + (failing.length ?
        failing.length + ' endpoint' + (failing.length === 1 ? '' : 's') + ' failing or disabled' :
        'no endpoint failing');
      st.className = failing.length ? 'bad' : 'ok';
      document.body.setAttribute('data-updated', String(Date.now()));
    }, function (e) {
      var st = $('state');
      st.textContent = e.status === 401 ? 'The API needs its token.' : 'Refresh failed: ' + e.message;
      st.className = 'bad';
    }).then(function () {
      busy = false;
      if (again) {
        again = false;
        refresh();
      } else {
        timer = setTimeout(refresh, REFRESH_MS);
      }
    });
  }

  function localInput(d) {
    function p(n) { return (n < 10 ? '0' : '') + n; }
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' +
      p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('token-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      token = $('token').value;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token').value = '';
      $('token-form').hidden = true;
      refresh();
    });
    $('recover-since').value = localInput(new Date(Date.now() - 3600000));
    $('recover-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var name = $('recover-endpoint').value, since = new Date($('recover-since').value);
      if (isNaN(since.getTime())) return say('Since: not a valid time.', true);
      act(api('POST', 'endpoints/' + encodeURIComponent(name) + '/recover', { since: since.toISOString() }),
        function (r) { return 'Recover at ' + name + ': ' + r.replayed + ' event' + (r.replayed === 1 ? '' : 's') + ' replayed.'; });
    });
    refresh();
  });
})();
