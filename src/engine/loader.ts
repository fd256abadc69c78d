// AssemblyScript's loader instantiates the module (Engine.fromModule) and reads strings out of its memory. It is
// the engine's one package import: `npm run build` bundles it into the engine's module, dist/lib/presparse.js, so
// the package a page loads still imports no bare module specifier.
export { instantiateSync } from "@assemblyscript/loader";
