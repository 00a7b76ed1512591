import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Base URI of Photon's problem types (RFC 9457 `type`). */
const problemBase = "https://photon.dev/problems/";

/** The details of an RFC 9457 problem document. */
export interface ProblemDetails {
  /** Stable short type name, e.g. `not-found`; expanded to a URI in the body. */
  type: string;
  status: ContentfulStatusCode;
  title: string;
  detail?: string;
  /** Extension members, e.g. the invalid `field`. */
  extra?: Record<string, unknown>;
}

/** An error that the admin APIs answer as `application/problem+json`. */
export class ProblemError extends Error {
  constructor(readonly problem: ProblemDetails) {
    super(problem.detail ?? problem.title);
    this.name = "ProblemError";
  }
}

/** Shorthands for the problems every API uses. */
export const problems = {
  badRequest: (detail: string, extra?: Record<string, unknown>) =>
    new ProblemError({ type: "bad-request", status: 400, title: "Bad request", detail, extra }),
  invalidField: (field: string, detail: string) =>
    new ProblemError({ type: "invalid-field", status: 400, title: "Invalid field", detail: `${field}: ${detail}`, extra: { field } }),
  unauthorized: (detail: string) =>
    new ProblemError({ type: "unauthorized", status: 401, title: "Unauthorized", detail }),
  notFound: (detail: string) => new ProblemError({ type: "not-found", status: 404, title: "Not found", detail }),
  conflict: (detail: string) => new ProblemError({ type: "conflict", status: 409, title: "Conflict", detail }),
  insufficientStorage: (detail: string) => new ProblemError({ type: "insufficient-storage", status: 507, title: "Insufficient storage", detail }),
};

/** The error kinds services share, each with its one problem. */
export type CommonErrorKind = "not-found" | "conflict" | "invalid" | "insufficient-storage";

/** The problem for a service error of a common kind; `field` names the bad input of an `invalid` one. */
export function problemOfKind(kind: CommonErrorKind, message: string, field = "body"): ProblemError {
  switch (kind) {
    case "not-found":
      return problems.notFound(message);
    case "conflict":
      return problems.conflict(message);
    case "invalid":
      return problems.invalidField(field, message);
    case "insufficient-storage":
      return problems.insufficientStorage(message);
  }
}

/** The body of a problem response. */
export function problemBody(problem: ProblemDetails, instance?: string): Record<string, unknown> {
  return {
    type: problemBase + problem.type,
    title: problem.title,
    status: problem.status,
    ...(problem.detail === undefined ? {} : { detail: problem.detail }),
    ...(instance === undefined ? {} : { instance }),
    ...problem.extra,
  };
}

/** An `application/problem+json` response. */
export function problemResponse(problem: ProblemDetails, instance?: string): Response {
  return new Response(JSON.stringify(problemBody(problem, instance)), {
    status: problem.status,
    headers: { "content-type": "application/problem+json" },
  });
}
