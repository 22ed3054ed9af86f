import { inspect } from 'node:util';

/**
 * A setting that must never show: readable only through `reveal()`, and `[secret]` wherever it is
 * printed, logged or serialised. Plugins wrap keys in it; the admin masks settings that hold one.
 */
export class Secret<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return '[secret]';
  }
}
