// SPDX-License-Identifier: MIT
/**
 * The well-known symbol `using` calls. Node 20 may run without `Symbol.dispose`; TypeScript's downlevel `using`
 * then looks up `Symbol.for('nodejs.dispose')`, which is also what Node itself registers, so either lookup finds us.
 */
export const disposeSymbol: typeof Symbol.dispose =
  (Symbol as { dispose?: typeof Symbol.dispose }).dispose ?? (Symbol.for('nodejs.dispose') as typeof Symbol.dispose);
