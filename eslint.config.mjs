// ESLint for the web pages' ES modules (src/fangxun/web/static/js): `make lint` runs it.
// Leaflet is vendored and loaded by a classic <script> before the modules: the global `L`.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["src/fangxun/web/static/vendor/**", "node_modules/**", "**/*.min.js"] },
  js.configs.recommended,
  {
    files: ["src/fangxun/web/static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, L: "readonly" },
    },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_" }],
      "prefer-const": "error",
      "no-var": "error",
      eqeqeq: ["error", "always", { null: "ignore" }],
    },
  },
];
