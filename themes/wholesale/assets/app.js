// cardshop wholesale theme: small enhancements only; every page works without this file.
(function () {
  'use strict';

  // Copy buttons: <button data-copy="text" data-copied="label" hidden>, shown once JS runs.
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.top = '-1000px';
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { /* not allowed */ }
    document.body.removeChild(ta);
    return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
  }
  // A transfer payment: <p data-countdown="ms" data-left="{time} left" data-expired="…"> counts down,
  // and the page is asked again every 10 s: once the order is no longer waiting, it reloads.
  document.querySelectorAll('[data-countdown]').forEach(function (el) {
    var end = +el.getAttribute('data-countdown');
    function tick() {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      if (!s) { el.textContent = el.getAttribute('data-expired'); return; }
      var mm = Math.floor(s / 60), ss = s % 60;
      el.textContent = el.getAttribute('data-left').replace('{time}', mm + ':' + (ss < 10 ? '0' : '') + ss);
      setTimeout(tick, 1000);
    }
    tick();
    (function poll() {
      setTimeout(function () {
        fetch(location.href, { credentials: 'same-origin', headers: { accept: 'text/html' } })
          .then(function (r) { return r.text(); })
          .then(function (html) { if (html.indexOf('data-countdown=') < 0) location.reload(); else poll(); }, poll);
      }, 10000);
    })();
  });

  // Receipt page: <button data-print hidden> prints it, shown once JS runs.
  document.querySelectorAll('button[data-print]').forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener('click', function () { window.print(); });
  });

  document.querySelectorAll('button[data-copy]').forEach(function (btn) {
    var label = btn.textContent;
    var timer;
    btn.hidden = false;
    btn.addEventListener('click', function () {
      copy(btn.getAttribute('data-copy').replace(/\n+$/, '')).then(function () {
        btn.textContent = btn.getAttribute('data-copied') || label;
        clearTimeout(timer);
        timer = setTimeout(function () { btn.textContent = label; }, 1500);
      }, function () { /* the text stays selectable */ });
    });
  });

  // Flash sales: <span data-flash-clock="start:end"> counts down to the start, then to the end.
  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    s %= 60;
    return h + ':' + (m < 10 ? '0' : '') + m + ':' + (s < 10 ? '0' : '') + s;
  }
  document.querySelectorAll('[data-flash-clock]').forEach(function (el) {
    var t = el.getAttribute('data-flash-clock').split(':');
    (function tick() {
      var now = Date.now();
      if (now >= +t[1]) { el.closest('[data-flash-badge]').hidden = true; return; }
      el.textContent = now < +t[0] ? el.getAttribute('data-starts-in') + ' ' + clock(+t[0] - now) : el.getAttribute('data-ends-in') + ' ' + clock(+t[1] - now);
      setTimeout(tick, 1000);
    })();
  });

  // The unit price of q units, as the checkout works it out: the wholesale bracket reached, then a
  // flash sale on now where lower and with the units left (data-flash="price:start:end:left:perBuyer").
  function unitPrice(sku, q) {
    var price = parseInt(sku.getAttribute('data-price'), 10);
    (sku.getAttribute('data-tiers') || '').split(' ').forEach(function (t) {
      var p = t.split(':');
      if (p.length === 2 && q >= +p[0]) price = +p[1];
    });
    var f = (sku.getAttribute('data-flash') || '').split(':');
    var now = Date.now();
    if (f.length === 5 && now >= +f[1] && now < +f[2] && q <= +f[3] && (f[4] === '' || q <= +f[4]) && +f[0] < price) price = +f[0];
    return price;
  }

  // Product page: the quantity follows the chosen SKU's limits; the unit price and total follow both.
  var form = document.querySelector('form[data-buy]');
  var qty = form && form.querySelector('input[name=quantity]');
  if (!qty) return;
  var total = form.querySelector('[data-total]');
  function money(fen) {
    var s = String(Math.abs(fen) % 100);
    var whole = String(Math.floor(Math.abs(fen) / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return total.querySelector('[data-zero]').getAttribute('data-zero').replace(/0\.00/, whole + '.' + (s.length < 2 ? '0' + s : s));
  }
  function preview() {
    var sku = form.querySelector('input[name=sku]:checked');
    var q = parseInt(qty.value, 10);
    if (!sku || !total) return;
    total.hidden = false;
    total.querySelector('[data-unit]').textContent = q > 0 ? money(unitPrice(sku, q)) : '-';
    total.querySelector('[data-zero]').textContent = q > 0 ? money(q * unitPrice(sku, q)) : '-';
  }
  form.addEventListener('change', function (e) {
    var r = e.target;
    if (r.name !== 'sku') return;
    var min = r.getAttribute('data-min') || '1';
    var max = r.getAttribute('data-max');
    qty.min = min;
    if (max) qty.max = max; else qty.removeAttribute('max');
    var n = parseInt(qty.value, 10);
    if (!(n >= +min)) qty.value = min;
    else if (max && n > +max) qty.value = max;
    preview();
  });
  qty.addEventListener('input', preview);
  preview();
})();
