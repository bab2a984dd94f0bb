// Liquid Book's self-check quiz widget: an anywidget ES module for MyST's {anywidget}.
//
// The model holds `quiz`, an array of questions in JupyterQuiz's JSON format (checked and
// sanitised by the app before it was committed). Nothing is fetched: the questions come from
// the page. The quiz's HTML is parsed into an inert document and only allow-listed
// formatting elements are re-created; text always goes in as text nodes, so no JSON string
// is ever inserted as HTML. An answer shows its feedback and whether it is right.

const ALLOWED = new Set([
  "B", "STRONG", "I", "EM", "U", "SUB", "SUP", "CODE", "PRE", "BR", "P", "UL", "OL", "LI",
  "SPAN", "KBD", "SMALL", "MARK", "DEL", "INS", "BLOCKQUOTE",
]);

function appendSafe(target, html) {
  const doc = new DOMParser().parseFromString(String(html ?? ""), "text/html");
  const copy = (from, to) => {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.appendChild(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (ALLOWED.has(node.tagName)) {
          copy(node, to.appendChild(document.createElement(node.tagName.toLowerCase())));
        } else if (node.tagName !== "SCRIPT" && node.tagName !== "STYLE") {
          copy(node, to);
        }
      }
    }
  };
  copy(doc.body, target);
  return target;
}

function element(tag, className, html) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (html !== undefined) appendSafe(el, html);
  return el;
}

function showFeedback(box, correct, feedback) {
  box.replaceChildren();
  box.className = "lbq-feedback " + (correct ? "lbq-right" : "lbq-wrong");
  box.appendChild(document.createTextNode(correct ? "✓ Correct. " : "✗ Not right. "));
  appendSafe(box, feedback);
}

function rounded(value, precision) {
  return precision ? Number(Number(value).toPrecision(precision)) : Number(value);
}

function numericAnswer(question, text) {
  const value = Number(String(text).trim().replace(",", "."));
  const answers = question.answers || [];
  if (String(text).trim() !== "" && Number.isFinite(value)) {
    const given = rounded(value, question.precision);
    for (const answer of answers) {
      if (answer.type === "value" && given === rounded(answer.value, question.precision)) return answer;
      if (answer.type === "range" && value >= answer.range[0] && value <= answer.range[1]) return answer;
    }
  }
  return answers.find((a) => a.type === "default") || { correct: false, feedback: "" };
}

function similarity(a, b) {
  // 1 - Levenshtein distance / longer length, on two short strings.
  if (a === b) return 1;
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const kept = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = kept;
    }
  }
  return 1 - row[b.length] / Math.max(a.length, b.length, 1);
}

function stringAnswer(question, text) {
  const given = String(text).trim();
  for (const answer of question.answers || []) {
    const plain = new DOMParser().parseFromString(answer.answer, "text/html").body.textContent.trim();
    const [x, y] = answer.match_case ? [given, plain] : [given.toLowerCase(), plain.toLowerCase()];
    const threshold = answer.fuzzy_threshold ?? 1;
    if (x === y || (threshold < 1 && similarity(x, y) >= threshold)) return answer;
  }
  return { correct: false, feedback: "" };
}

function renderQuestion(question, number) {
  const box = element("div", "lbq-question");
  box.dataset.type = question.type;
  const title = element("div", "lbq-text");
  title.appendChild(document.createTextNode(`${number}. `));
  appendSafe(title, question.question);
  box.appendChild(title);
  const feedback = element("div", "lbq-feedback");
  feedback.setAttribute("aria-live", "polite");
  if (question.type === "multiple_choice" || question.type === "many_choice") {
    const list = element("div", "lbq-answers");
    for (const answer of question.answers || []) {
      const button = element("button", "lbq-answer", answer.answer);
      button.type = "button";
      button.addEventListener("click", () => {
        button.classList.add(answer.correct ? "lbq-right" : "lbq-wrong");
        showFeedback(feedback, answer.correct, answer.feedback);
      });
      list.appendChild(button);
    }
    box.appendChild(list);
  } else {
    const form = element("form", "lbq-form");
    const input = element("input", "lbq-input");
    input.type = "text";
    input.setAttribute("aria-label", "Your answer");
    const check = element("button", "lbq-check");
    check.type = "submit";
    check.textContent = "Check";
    form.append(input, check);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const answer = question.type === "numeric" ? numericAnswer(question, input.value) : stringAnswer(question, input.value);
      showFeedback(feedback, Boolean(answer.correct), answer.feedback);
    });
    box.appendChild(form);
  }
  box.appendChild(feedback);
  return box;
}

const STYLE = `
.lbq-question { margin: 1em 0; padding: .75em; border: 1px solid #ccd; border-radius: 6px; }
.lbq-text { font-weight: 600; margin-bottom: .5em; }
.lbq-answer { display: block; margin: .25em 0; padding: .35em .75em; cursor: pointer; text-align: left; }
.lbq-answer.lbq-right, .lbq-feedback.lbq-right { border-color: #2a7; color: #174; }
.lbq-answer.lbq-wrong, .lbq-feedback.lbq-wrong { border-color: #c44; color: #a22; }
.lbq-feedback { margin-top: .5em; min-height: 1.2em; }
`;

function render({ model, el }) {
  const quiz = model.get("quiz");
  const root = element("div", "lbq-quiz");
  const style = document.createElement("style");
  style.textContent = STYLE;
  root.appendChild(style);
  if (!Array.isArray(quiz)) {
    root.appendChild(document.createTextNode("This quiz could not be read."));
  } else {
    quiz.forEach((question, index) => root.appendChild(renderQuestion(question, index + 1)));
  }
  el.appendChild(root);
}

export default { render };
