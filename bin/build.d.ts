/** Types of bin/build.js (plain JavaScript: it runs before anything is compiled), for the TypeScript that imports it. */
export declare const SERVER_BUILD: string;
export declare const SERVER_MAIN: string;
export declare function newestMtime(path: string): number;
export declare function serverBuildIsFresh(): boolean;
export declare function ensureServerBuild(say: (msg: string) => void): Promise<void>;
export declare function buildServer(): Promise<void>;
export declare const DOCS_ASSETS: string;
export declare function copyDocsAssets(): void;
