import { ProblemError, problemOfKind, type CommonErrorKind } from "../http/problem.ts";

/** What went wrong, in terms the API boundary can translate. */
export type PlasmaErrorKind = Exclude<CommonErrorKind, "insufficient-storage"> | "no-capacity" | "unavailable" | "failed";

/** An error of PlasmaVMC's controller side (images, volumes, VMs); `field` names the bad input of an `invalid` one. */
export class PlasmaError extends Error {
  constructor(
    readonly kind: PlasmaErrorKind,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "PlasmaError";
  }
}

export const notFound = (what: string) => new PlasmaError("not-found", `${what} does not exist`);
export const conflict = (message: string) => new PlasmaError("conflict", message);
export const invalid = (field: string, message: string) => new PlasmaError("invalid", message, field);

/** The one place PlasmaVMC errors become problem+json. */
export function plasmaProblem(err: Error): ProblemError | undefined {
  if (!(err instanceof PlasmaError)) return undefined;
  switch (err.kind) {
    case "no-capacity":
      return new ProblemError({ type: "no-capacity", status: 409, title: "No node can take it", detail: err.message });
    case "unavailable":
      return new ProblemError({ type: "unavailable", status: 503, title: "Service unavailable", detail: err.message });
    case "failed":
      return new ProblemError({ type: "operation-failed", status: 502, title: "Operation failed", detail: err.message });
    default:
      return problemOfKind(err.kind, err.message, err.field);
  }
}
