/** The buyer page's one stylesheet, served as /assets/buyer.css (the policy allows no inline style). */
export const BUYER_CSS = `*{box-sizing:border-box}
html{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#18202b;background:#f6f8fb}
body{margin:0}
a{color:#1f5fbf}
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #f2a900;outline-offset:2px}
.top{background:#fff;border-bottom:1px solid #e3e8ef}
.top-inner{max-width:46rem;margin:0 auto;padding:.7rem 1.2rem;display:flex;align-items:center;gap:1rem;flex-wrap:wrap}
.brand{font-weight:700;font-size:1.1rem;color:#18202b;text-decoration:none;margin-right:auto}
.who{color:#5f6b7a;font-size:.9rem}
.top form{margin:0}
main{max-width:46rem;margin:0 auto;padding:1.5rem 1.2rem 3rem}
h1{font-size:1.6rem;margin:.2rem 0 1rem}
h2{font-size:1.15rem;margin:0 0 .8rem}
h3{font-size:1rem;margin:1rem 0 .4rem}
.card{background:#fff;border:1px solid #e3e8ef;border-radius:10px;padding:1.3rem 1.5rem;margin:0 0 1.2rem}
.card>:first-child{margin-top:0}.card>:last-child{margin-bottom:0}
.muted{color:#5f6b7a}
.fine{font-size:.88rem}
label{display:block;font-weight:600;margin:.7rem 0 .25rem}
input[type=text],input[type=email]{font:inherit;width:100%;padding:.55rem .7rem;border:1px solid #b9c3cf;border-radius:7px;background:#fff;color:inherit}
fieldset{border:0;padding:0;margin:1rem 0}
legend{font-weight:700;padding:0;margin-bottom:.2rem}
.attendees{list-style:none;padding:0;margin:0 0 .7rem}
.attendees li{margin:0 0 .3rem}
.attendees label{font-weight:500;margin:.4rem 0 .2rem}
.row{display:flex;gap:.5rem;align-items:center}
.row input{flex:1}
button,.button{font:inherit;font-weight:600;border:0;background:#1f5fbf;color:#fff;border-radius:8px;padding:.6rem 1.4rem;cursor:pointer;text-decoration:none;display:inline-block}
button:hover,.button:hover{filter:brightness(1.1)}
button.secondary{background:#e8eef7;color:#1f3f6f;font-weight:500;padding:.45rem .9rem}
button.link{background:none;color:#1f5fbf;padding:0;font-weight:500;text-decoration:underline}
.actions{margin-top:1.2rem;display:flex;gap:.8rem;align-items:center;flex-wrap:wrap}
.visually-hidden{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0;padding:0;margin:-1px}
.message{border-radius:8px;padding:.7rem .9rem;margin:0 0 1rem}
.message.error{background:#fdecec;color:#8a1c1c;border:1px solid #f3c2c2}
.message.info{background:#eaf3ea;color:#1d5a26;border:1px solid #c4e0c7}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.5rem .4rem;border-bottom:1px solid #e3e8ef;vertical-align:top}
th{font-size:.85rem;color:#5f6b7a;font-weight:600}
td.num,th.num{text-align:right}
.status{font-size:1.2rem;font-weight:700;margin:0 0 .6rem}
.status-sent{color:#1d6b2b}.status-failed,.status-payment_mismatch,.status-expired{color:#a12626}
progress{width:100%;height:1rem;margin:.2rem 0 .8rem;accent-color:#1f5fbf}
.tickets{padding-left:1.2rem}
.tickets li{margin:.25rem 0}
[hidden]{display:none!important}
`;
