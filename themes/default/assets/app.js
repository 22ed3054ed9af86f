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

  // Receipt page: <button data-print> prints it (hidden without JS; the browser's print works too).
  document.querySelectorAll('button[data-print]').forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener('click', function () { window.print(); });
  });

  // Product page: follow the chosen SKU's quantity limits and preview quantity x price.
  var form = document.querySelector('form[data-buy]');
  if (!form) return;
  var qty = form.querySelector('input[name=quantity]');
  var out = form.querySelector('[data-total] output');
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
      out.textContent = q > 0 ? money(q * parseInt(sku.getAttribute('data-price'), 10)) : '-';
    }
  }
  radios.forEach(function (r) { r.addEventListener('change', function () { update(true); }); });
  if (qty) qty.addEventListener('input', function () { update(false); });
  update(true);
})();
