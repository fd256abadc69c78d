// AssemblyScript's loader instantiates the module (Engine.fromModule) and reads strings out of its memory. It is
// the engine's one package import: `npm run build` bundles it into dist/engine/loader.js, so the package a page
// loads still imports no bare module specifier.
export { instantiateSync } from "@assemblyscript/loader";
