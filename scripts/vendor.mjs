// Copy the front-end libraries installed from the npm registry into static/vendor.
// Nothing is loaded from a CDN: the app serves these files itself.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "static", "vendor");
const files = {
  "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
  "socket.io.min.js": "node_modules/socket.io-client/dist/socket.io.min.js",
  "pico.min.css": "node_modules/@picocss/pico/css/pico.min.css",
};
mkdirSync(out, { recursive: true });
for (const [name, source] of Object.entries(files)) {
  copyFileSync(join(root, source), join(out, name));
}
console.log(`copied ${Object.keys(files).length} files to static/vendor`);
