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

  // Product page: the quantity follows the chosen SKU's limits.
  var form = document.querySelector('form[data-buy]');
  var qty = form && form.querySelector('input[name=quantity]');
  if (!qty) return;
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
  });
})();
