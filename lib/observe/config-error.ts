/**
 * The one error type for configuration a user got wrong, wherever it is read: a missing
 * kubeconfig, an unknown context, a bad certificate, a failing exec plugin, a LOG_LEVEL or
 * LOG_FORMAT that is not one of the accepted values. It lives at the bottom of the toolkit (with
 * logging, which reads LOG_LEVEL) so every layer can throw it; `lib/kube` re-exports it.
 */

/** A configuration problem, described for the user who has to fix it. */
export class ConfigError extends Error {
  /**
   * A configuration error with a message for the user.
   * @param message what is wrong and, where it helps, how to fix it
   * @param options the underlying error, if any
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
  }
}
