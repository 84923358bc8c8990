export interface EngineArtifact {
  what?: string;
  url: string;
  sha256: string;
  out: string;
}
export function sha256(bytes: Uint8Array): string;
export function checkPin(name: string, artifact: EngineArtifact | undefined): string;
export function verify(name: string, bytes: Uint8Array, expected: string): void;
export function fetchArtifact(
  name: string,
  artifact: EngineArtifact | undefined,
  options?: { fetchImpl?: (url: string, init?: RequestInit) => Promise<Response>; root?: string; log?: (message: string) => void },
): Promise<string>;
export function loadManifest(root?: string): Promise<{ artifacts: Record<string, EngineArtifact> }>;
