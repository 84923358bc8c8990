import type { BuildOptions } from 'esbuild';
export declare const electronBuildOptions: BuildOptions & { entryPoints: Record<string, string>; outdir: string };
