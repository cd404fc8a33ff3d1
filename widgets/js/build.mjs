// Build widgets/static/terminal.{js,css} from the npm packages pinned in package-lock.json:
// one ES module with xterm.js and its fit addon inside (no CDN, no import at run time),
// and one stylesheet (xterm.css + nslab's).  Licences are copied next to them.
import { build } from "esbuild";
import { readFileSync, writeFileSync, copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, "..", "static");
mkdirSync(out, { recursive: true });
const versions = ["@xterm/xterm", "@xterm/addon-fit"].map(
  (p) => `${p}@${JSON.parse(readFileSync(join(here, "node_modules", p, "package.json"))).version}`);

await build({
  entryPoints: [join(here, "src", "terminal.js")],
  bundle: true, format: "esm", minify: true, target: "es2020", legalComments: "eof",
  banner: { js: `// nslab terminal widget; bundles ${versions.join(", ")} (MIT, see LICENSE-xterm.txt)` },
  outfile: join(out, "terminal.js"),
});
const css = readFileSync(join(here, "node_modules", "@xterm", "xterm", "css", "xterm.css"), "utf8")
  + "\n" + readFileSync(join(here, "src", "nslab-terminal.css"), "utf8");
writeFileSync(join(out, "terminal.css"), css);
copyFileSync(join(here, "node_modules", "@xterm", "xterm", "LICENSE"), join(out, "LICENSE-xterm.txt"));
copyFileSync(join(here, "node_modules", "@xterm", "addon-fit", "LICENSE"), join(out, "LICENSE-xterm-addon-fit.txt"));
console.log(`built ${out}/terminal.js and terminal.css from ${versions.join(", ")}`);
