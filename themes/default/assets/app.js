// cardshop default theme: progressive enhancements only; every page works without this file.
(function () {
  'use strict';

  // Copy buttons: <button data-copy="text" data-copied="label"> (hidden until JS shows them).
  function fallbackCopy(text) {
    var ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.top = '-1000px';
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
  }
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }
  document.querySelectorAll('button[data-copy]').forEach(function (btn) {
    btn.hidden = false;
    var label = btn.textContent;
    var timer;
    btn.addEventListener('click', function () {
      copy(btn.getAttribute('data-copy').replace(/\n+$/, '')).then(function () {
        btn.textContent = btn.getAttribute('data-copied') || label;
        clearTimeout(timer);
        timer = setTimeout(function () { btn.textContent = label; }, 1800);
      }, function () { /* leave the text selectable; nothing else to do */ });
    });
  });

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

  // Receipt page: <button data-print> prints it (hidden without JS; the browser's print works too).
  document.querySelectorAll('button[data-print]').forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener('click', function () { window.print(); });
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

  // Product page: follow the chosen SKU's quantity limits and preview quantity x unit price.
  var form = document.querySelector('form[data-buy]');
  if (!form) return;
  var qty = form.querySelector('input[name=quantity]');
  var out = form.querySelector('[data-total] output[data-zero]');
  var unit = form.querySelector('[data-total] output[data-unit]');
  var radios = form.querySelectorAll('input[name=sku]');
  if (!form.querySelector('input[name=sku]:checked')) {
    var first = form.querySelector('input[name=sku]:not([disabled])');
    if (first) first.checked = true;
  }
  function money(fen) {
    var s = String(Math.abs(fen) % 100);
    var whole = String(Math.floor(Math.abs(fen) / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return out.getAttribute('data-zero').replace(/0\.00/, whole + '.' + (s.length < 2 ? '0' + s : s));
  }
  function update(skuChanged) {
    var sku = form.querySelector('input[name=sku]:checked');
    if (!sku || !qty) return;
    if (skuChanged) {
      var min = sku.getAttribute('data-min') || '1';
      var max = sku.getAttribute('data-max');
      qty.min = min;
      if (max) qty.max = max; else qty.removeAttribute('max');
      var n = parseInt(qty.value, 10);
      if (!(n >= +min)) qty.value = min;
      else if (max && n > +max) qty.value = max;
    }
    var q = parseInt(qty.value, 10);
    if (out) {
      out.parentNode.hidden = false;
      out.textContent = q > 0 ? money(q * unitPrice(sku, q)) : '-';
      if (unit) unit.textContent = q > 0 ? money(unitPrice(sku, q)) : '-';
    }
  }
  radios.forEach(function (r) { r.addEventListener('change', function () { update(true); }); });
  if (qty) qty.addEventListener('input', function () { update(false); });
  update(true);
})();
