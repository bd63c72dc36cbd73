// The console's page, style and script are bundled as text (`with { type: 'text' }`): esbuild inlines
// them in the binary, and the tests' loader hook (test/helpers/text-import.mjs) does the same under tsx.
declare module '*.html' { const text: string; export default text; }
declare module '*.svg' { const text: string; export default text; }
declare module '*.css' { const text: string; export default text; }
declare module '*/assets/console.js' { const text: string; export default text; }
